import { EXIT } from '../server/exit-codes.ts';
import { masterExtensions } from '../server/extensions.ts';
// Built-in parts that run in the master register themselves on import.
import '../telemetry/master/extension.ts';
import '../dashboard/extension.ts';
import { createLog } from '../server/log.ts';
import { Master } from '../server/master/master.ts';
import { supportsReusePort } from '../server/reuse-port.ts';
import {
  type CommandLine,
  parseCommandLine,
  type ResolvedSettings,
  resolveSettings,
  toConfigObject,
} from '../server/settings/resolve.ts';
import { npmExecAdvice } from './npm-exec.ts';

const FLAGS = { help: { short: 'h' }, 'print-config': {}, 'check-config': {} };

function fail(message: string, code: number = EXIT.USAGE): number {
  process.stderr.write(`peregrine serve: ${message}\n`);
  return code;
}

/** `peregrine serve MODULE[:EXPORT] [options]`: runs the pre-fork server; resolves to the exit code. */
export async function serveCommand(argv: readonly string[]): Promise<number> {
  let line: CommandLine;
  try {
    line = parseCommandLine(argv, FLAGS);
  } catch (err) {
    return fail(`${(err as Error).message}\n(see peregrine serve --help)`);
  }
  if (line.flags.help) {
    // The help text, --check-config and the App itself load only when asked for: the master
    // stays resident for the life of the service and keeps whatever it imported.
    const { renderHelp } = await import('../server/settings/docs.ts');
    process.stdout.write(renderHelp());
    return EXIT.OK;
  }
  if (line.positionals.length > 1) {
    return fail(`one MODULE expected, got ${line.positionals.join(' ')}`);
  }
  if (line.positionals[0] !== undefined) line.cli.app = line.positionals[0];
  const input = { cli: line.cli, env: process.env };
  let resolved: ResolvedSettings;
  try {
    resolved = await resolveSettings(input);
  } catch (err) {
    return fail((err as Error).message);
  }
  const { settings } = resolved;
  if (line.flags['print-config']) {
    process.stdout.write(`${JSON.stringify(toConfigObject(settings), null, 2)}\n`);
    return EXIT.OK;
  }
  const app = settings.app;
  if (app === null) return fail('no MODULE given (peregrine serve MODULE[:EXPORT])');
  if (line.flags['check-config']) {
    const { isTypeScript, rerunWithStripTypes, stripsTypes } = await import('./typescript.ts');
    if (isTypeScript(app) && !stripsTypes()) return rerunWithStripTypes();
    const { loadApp, loadFailure } = await import('../server/worker/load-app.ts');
    try {
      const loaded = await loadApp(app);
      const routes = loaded.describeRoutes().length;
      process.stdout.write(
        `ok: settings are valid and ${app} exports an App with ${routes} routes\n`,
      );
      return EXIT.OK;
    } catch (err) {
      return fail(loadFailure(err), EXIT.APP_LOAD_ERROR);
    }
  }
  if (settings.reusePort && !supportsReusePort()) {
    process.stderr.write(
      'peregrine serve: --reuse-port needs Linux and Node ≥ 22.12; using round-robin\n',
    );
    settings.reusePort = false;
  }
  const log = createLog({
    level: settings.logLevel,
    format: settings.logFormat,
    file: settings.logFile,
    bindings: { role: 'master' },
    sync: true,
  });
  // One line at start: npx/npm exec (or an npm script) keeps a ~100 MiB npm process resident.
  const advice = npmExecAdvice(
    process.env,
    ['serve', ...argv],
    process.argv[1] ?? '',
    process.cwd(),
  );
  if (advice !== null) log.logger.info({ npmCommand: process.env.npm_command }, advice);
  const master = new Master({ settings, input, app, log, extensions: masterExtensions });
  const code = await master.run();
  log.flush();
  // Nothing should be left, but a stray handle must not keep a stopped server alive.
  setTimeout(() => process.exit(code), 500).unref();
  return code;
}
