// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { readFileSync, rmSync, writeFileSync } = process.getBuiltinModule('node:fs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes this process's pid; refuses when the file names another live process. */
export function writePidFile(path: string): void {
  let existing: number | undefined;
  try {
    existing = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && existing !== process.pid && existing > 0 && alive(existing)) {
    throw new Error(
      `pid file ${path} names a running process (${existing}); is it already running?`,
    );
  }
  writeFileSync(path, `${process.pid}\n`);
}

/** Removes the pid file if it still holds this process's pid. */
export function removePidFile(path: string): void {
  try {
    if (Number.parseInt(readFileSync(path, 'utf8').trim(), 10) === process.pid) rmSync(path);
  } catch {
    // Already gone, or replaced by another process: leave it.
  }
}
