/** jose, loaded on first use: an App that never verifies a token never loads it. */
export type Jose = typeof import('jose');

let jose: Promise<Jose> | undefined;

/** The jose module (imported once, on first call). */
export function loadJose(): Promise<Jose> {
  jose ??= import('jose');
  return jose;
}
