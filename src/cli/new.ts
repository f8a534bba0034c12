import { spawn } from 'node:child_process';
import { basename, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT } from '../server/exit-codes.ts';
import {
  invalidPackageName,
  occupied,
  peregrineSpec,
  scaffold,
  suggestPackageName,
} from './scaffold.ts';

const HELP = `Usage: peregrine new NAME [options]

Creates the folder NAME with a service: app.ts (a resource on the embedded SQLite database,
with a migration), app.test.ts (TestClient), package.json (start, dev and test scripts; Node 24
pinned), tsconfig.json, README.md and .gitignore; then runs npm install (offline when the npm
cache has everything). NAME must be absent or an empty folder; its last part is the package name.

  --peregrine-spec SPEC  how package.json names peregrine (default: the way this copy was
                         installed, e.g. ^0.1.0 or file:../peregrine-0.1.0.tgz)
  --no-install           do not run npm install
  -h, --help             show this help
`;

function fail(message: string, code: number = EXIT.USAGE): number {
  process.stderr.write(`peregrine new: ${message}\n`);
  return code;
}

/** Runs `npm install` in `dir`, preferring the npm cache; resolves to npm's exit code. */
function npmInstall(dir: string): Promise<number> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  return new Promise((done) => {
    const child = spawn(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: 'inherit',
      shell: process.platform === 'win32',
    });
    child.once('error', (err) => {
      process.stderr.write(`peregrine new: cannot run npm: ${err.message}\n`);
      done(127);
    });
    child.once('exit', (code, signal) => done(code ?? (signal === null ? 1 : 128)));
  });
}

/** `peregrine new NAME`: scaffolds a service; resolves to the exit code. */
export async function newCommand(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{
      options: {
        'peregrine-spec': { type: 'string' };
        install: { type: 'boolean'; default: true };
        help: { type: 'boolean'; short: 'h' };
      };
      allowPositionals: true;
      allowNegative: true;
      args: string[];
    }>
  >;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'peregrine-spec': { type: 'string' },
        install: { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      allowNegative: true,
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${HELP}`);
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  const [target, ...extra] = parsed.positionals;
  if (target === undefined || extra.length > 0) return fail(`one NAME expected\n\n${HELP}`);
  const dir = resolve(target);
  const name = basename(dir);
  const invalid = invalidPackageName(name);
  if (invalid !== undefined) {
    return fail(`"${name}" cannot be a package name: ${invalid}. Try ${suggestPackageName(name)}.`);
  }
  const taken = occupied(dir);
  if (taken !== undefined) {
    return fail(`${taken}; nothing was written. Choose another NAME, or empty it first.`);
  }
  const spec = peregrineSpec(dir, parsed.values['peregrine-spec']);
  let files: string[];
  try {
    files = scaffold(dir, name, spec);
  } catch (err) {
    return fail(`cannot write ${dir}: ${(err as Error).message}`, 1);
  }
  const shown = relative(process.cwd(), dir) || '.';
  process.stdout.write(`Created ${shown}/ (peregrine ${spec}): ${files.join(' ')}\n`);
  if (parsed.values.install) {
    process.stdout.write('\nnpm install --prefer-offline (Node 24 comes with it)\n');
    const code = await npmInstall(dir);
    if (code !== 0) {
      return fail(
        `npm install failed (exit code ${code}). ${shown}/ is written; run npm install in it once the network (or the npm cache) has the packages.`,
        1,
      );
    }
  }
  process.stdout.write(
    `\nNext:\n  cd ${shown}\n${parsed.values.install ? '' : '  npm install\n'}` +
      '  npm test       # type-check and run the tests\n' +
      '  npm run dev    # serve on http://127.0.0.1:8000, reload on save;' +
      ' dashboard on http://127.0.0.1:9464/dashboard\n',
  );
  return EXIT.OK;
}
