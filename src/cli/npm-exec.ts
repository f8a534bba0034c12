import { relative } from 'node:path';

/**
 * How npm started this process, when it did: `npx`/`npm exec` (`npm_command=exec`) or an npm
 * script (`npm start`, `npm run …`: `npm_lifecycle_event`). Either way npm stays resident as the
 * master's parent (~100 MiB) for as long as the server runs.
 */
export function npmLauncher(env: NodeJS.ProcessEnv): string | null {
  if (env.npm_command === 'exec') return 'npm exec (npx)';
  const event = env.npm_lifecycle_event;
  if (event !== undefined && event !== '') return `the npm script "${event}"`;
  return null;
}

/**
 * The line `peregrine serve` logs once at start under npm: what it costs and the command that
 * runs the same server without npm, or null when npm did not start it.
 */
export function npmExecAdvice(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
  script: string,
  cwd: string,
): string | null {
  const launcher = npmLauncher(env);
  if (launcher === null) return null;
  const bin = relative(cwd, script) || script;
  const args = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return (
    `started by ${launcher}: npm stays resident next to the master (~100 MiB) for as long as ` +
    `it serves; in production run the command itself: node ${bin} ${args.join(' ')}`
  );
}
