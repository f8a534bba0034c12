import { didYouMean } from '../server/settings/suggest.ts';
import { serveCommand } from './serve.ts';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { readFileSync } = process.getBuiltinModule('node:fs');

/** The package version, read from package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const HELP = `Usage: peregrine <command> [options]

Commands:
  serve MODULE[:EXPORT]   serve the App a module exports (pre-fork server)
  routes MODULE[:EXPORT]  print the App's routes, responders and middleware
  dev MODULE[:EXPORT]     serve with one worker and pretty logs; reload when a file changes
  new NAME                create a service in the folder NAME (app, test, package.json)
  apm                     run the APM: OTLP/HTTP ingest from many services, an embedded
                          store, the service map and trace search (peregrine apm --help)
  deploy kubernetes MODULE  write Kubernetes manifests (Deployment, Service, PDB, HPA) from
                          the serve settings given

Options:
  -h, --help     show this help
  -v, --version  print the version
`;

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'serve') return serveCommand(argv.slice(1));
  // Loaded on demand: the master `serve` leaves running keeps none of them in memory.
  if (command === 'routes') return (await import('./routes.ts')).routesCommand(argv.slice(1));
  if (command === 'dev') return (await import('./dev.ts')).devCommand(argv.slice(1));
  if (command === 'new') return (await import('./new.ts')).newCommand(argv.slice(1));
  if (command === 'apm') return (await import('./apm.ts')).apmCommand(argv.slice(1));
  if (command === 'deploy') return (await import('./deploy.ts')).deployCommand(argv.slice(1));
  const hint = didYouMean(command, ['serve', 'routes', 'dev', 'new', 'deploy', 'apm']);
  process.stderr.write(`peregrine: unknown command "${command}"${hint}\n\n${HELP}`);
  return 2;
}
