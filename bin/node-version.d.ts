/** Exit code of a refusal: like a bad command line, nothing was started (EXIT.USAGE). */
export declare const REFUSED: 2;
/** Whether `version` satisfies an `engines.node` range (`>=`, `>`, `<=`, `<`, `^`, `~`, `||`). */
export declare function satisfies(version: string, range: string): boolean;
/** What to print when this Node cannot run Peregrine, or null when it can. */
export declare function refusal(
  found: string,
  range: string,
  context: { args: readonly string[]; execPath: string; version: string },
): string | null;
