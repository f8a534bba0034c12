import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { EXIT } from '../server/exit-codes.ts';
import { type MasterExtension, masterExtensions } from '../server/extensions.ts';
// Built-in parts that run in the master register themselves on import.
import '../telemetry/master/extension.ts';
import '../dashboard/extension.ts';
import type { BootError } from '../server/ipc.ts';
import { createLog } from '../server/log.ts';
import { Master } from '../server/master/master.ts';
import {
  type CommandLine,
  parseCommandLine,
  resolveSettings,
  type SettingsInput,
} from '../server/settings/index.ts';
import { SourceWatcher } from './source-watcher.ts';

const HELP = `Usage: peregrine dev MODULE[:EXPORT] [options]

Serves the App as \`peregrine serve\` does, set up for working on it: one worker (unless
--workers says otherwise), readable logs (unless --log-format says otherwise), and a reload
whenever a .ts, .js or .json file of the project changes (node_modules and dot-folders aside).
A reload is the same zero-downtime reload as HUP: if the new code fails to start, the last good
code keeps serving and the log says why. If the App cannot start at all, dev waits for the next
change and tries again. It prints where the App and the dashboard are.

Every option of \`peregrine serve\` applies (see peregrine serve --help).
  -h, --help  show this help
`;

function say(text: string): void {
  process.stdout.write(`peregrine dev: ${text}\n`);
}

/** The project folder: the nearest one with a package.json above the module, else `cwd`. */
function projectRoot(app: string): string {
  const file = resolve(app.replace(/:[A-Za-z_$][\w$]*$/, ''));
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/** `http://` plus an admin or bind address (`HOST:PORT`, `[::1]:PORT`; `unix:` kept). */
function url(address: string, path = ''): string {
  return address.startsWith('unix:') ? `${address}${path}` : `http://${address}${path}`;
}

/**
 * The master side of `peregrine dev`: says where the App and the dashboard are once the first
 * worker is ready, and remembers why workers failed to boot, so dev knows whether editing a file
 * can fix it (a module that does not load, a startup hook that throws) or not (a port in use).
 */
class DevExtension implements MasterExtension {
  readonly name = 'dev';
  readonly #app: string;
  readonly #root: string;
  #bootError: BootError | undefined;

  constructor(app: string, root: string) {
    this.#app = app;
    this.#root = root;
  }

  setup(master: Master): void {
    let announced = false;
    master.messages.on('ready', (ready) => {
      if (announced) return;
      announced = true;
      const admin = master.admin.address;
      const serving = ready.addresses.map((a) => url(a)).join(', ');
      const workers = master.target === 1 ? '1 worker' : `${master.target} workers`;
      say(
        `${this.#app} serves on ${serving} (${workers})\n` +
          `  dashboard  ${admin === undefined ? 'off (--admin)' : url(admin, '/dashboard')}\n` +
          `  metrics    ${admin === undefined ? 'off (--admin)' : url(admin, '/metrics')}\n` +
          `  watching   ${this.#root} (.ts .js .json); a change reloads, Ctrl-C stops`,
      );
    });
    master.messages.on('boot-error', (error) => {
      this.#bootError = error;
    });
  }

  /** Whether a master that stopped with `code` may start once a file changes. */
  fixable(code: number): boolean {
    if (code === EXIT.APP_LOAD_ERROR) return true;
    // A startup hook that threw is the App's doing; a bind that failed is not (phase 'listen').
    return code === EXIT.BOOT_ERROR && this.#bootError?.phase === 'startup';
  }
}

/** Resolves on the next change (true) or on INT/TERM (false). */
function nextChangeOrStop(subscribe: (wake: () => void) => () => void): Promise<boolean> {
  return new Promise((done) => {
    const stop = () => finish(false);
    const unsubscribe = subscribe(() => finish(true));
    function finish(changed: boolean): void {
      unsubscribe();
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      done(changed);
    }
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * `peregrine dev MODULE[:EXPORT] [options]`: the pre-fork server with one worker and pretty
 * logs, reloaded (HUP, zero-downtime) when a source file changes; resolves to the exit code.
 */
export async function devCommand(argv: readonly string[]): Promise<number> {
  let line: CommandLine;
  try {
    line = parseCommandLine(argv, { help: { short: 'h' } });
  } catch (err) {
    process.stderr.write(`peregrine dev: ${(err as Error).message}\n(see peregrine dev --help)\n`);
    return EXIT.USAGE;
  }
  if (line.flags.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  const [app, ...extra] = line.positionals;
  if (app === undefined || extra.length > 0) {
    process.stderr.write(`peregrine dev: one MODULE expected\n\n${HELP}`);
    return EXIT.USAGE;
  }
  line.cli.app = app;
  line.cli.workers ??= '1';
  line.cli.logFormat ??= 'pretty';
  const input: SettingsInput = { cli: line.cli, env: process.env };
  try {
    await resolveSettings(input);
  } catch (err) {
    process.stderr.write(`peregrine dev: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }
  const root = projectRoot(app);
  let master: Master | undefined;
  let changedAt = 0;
  let wake: (() => void) | undefined;
  const watcher = new SourceWatcher(root, (files) => {
    changedAt = Date.now();
    const names = files.map((f) => relative(root, f)).join(', ');
    if (master?.state === 'running') {
      say(`${names} changed; reloading`);
      // The documented reload: the master's own HUP handling (new worker first, then drain).
      process.kill(process.pid, 'SIGHUP');
    } else {
      wake?.();
    }
  });
  let code: number = EXIT.OK;
  try {
    for (;;) {
      const { settings } = await resolveSettings(input);
      const log = createLog({
        level: settings.logLevel,
        format: settings.logFormat,
        file: settings.logFile,
        bindings: { role: 'master' },
        sync: true,
      });
      const dev = new DevExtension(app, root);
      const startedAt = Date.now();
      master = new Master({
        settings,
        input,
        app,
        log,
        extensions: [...masterExtensions, dev],
      });
      code = await master.run();
      master = undefined;
      log.flush();
      if (!dev.fixable(code)) break;
      if (changedAt > startedAt) continue; // fixed while it was failing: try again now
      say('the App cannot start (see above); save a fix and it starts again. Ctrl-C stops.');
      const changed = await nextChangeOrStop((w) => {
        wake = w;
        return () => {
          wake = undefined;
        };
      });
      if (!changed) {
        code = EXIT.OK;
        break;
      }
    }
  } finally {
    watcher.close();
  }
  // As in serve: nothing should be left, but a stray handle must not keep dev alive.
  setTimeout(() => process.exit(code), 500).unref();
  return code;
}
