import { spawn } from 'node:child_process';

/** Whether this Node strips TypeScript types without a flag (22.18+, 23.6+). */
export function stripsTypes(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

/**
 * Runs this command again with `--experimental-strip-types` (Node 22.12–22.17 and 23.0–23.5 need
 * it to import a `.ts` module); resolves to the child's exit code. Used by the short-lived
 * commands that import the App themselves (`routes`, `serve --check-config`).
 */
export function rerunWithStripTypes(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, '--experimental-strip-types', ...process.argv.slice(1)],
      { stdio: 'inherit' },
    );
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

/** Whether a module path is TypeScript. */
export function isTypeScript(path: string): boolean {
  return /\.[mc]?ts(:[A-Za-z_$][\w$]*)?$/.test(path);
}
