import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { npmExecAdvice, npmLauncher } from '../../src/cli/npm-exec.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;

test('npm exec, npx and npm scripts are recognised by the variables npm sets; a plain start is not', () => {
  assert.equal(npmLauncher({ npm_command: 'exec' }), 'npm exec (npx)');
  assert.equal(
    npmLauncher({ npm_command: 'run-script', npm_lifecycle_event: 'start' }),
    'the npm script "start"',
  );
  assert.equal(npmLauncher({}), null);
  assert.equal(npmExecAdvice({ PATH: '/usr/bin' }, ['serve', 'app.ts'], '/srv/x.js', '/srv'), null);
  const line = npmExecAdvice(
    { npm_command: 'exec' },
    ['serve', 'app.ts', '--bind', '0.0.0.0:8000', '--name', "it's"],
    '/srv/svc/node_modules/peregrine/bin/peregrine.js',
    '/srv/svc',
  );
  assert.match(
    line ?? '',
    /node node_modules\/peregrine\/bin\/peregrine\.js serve app\.ts --bind 0\.0\.0\.0:8000 --name 'it'\\''s'$/,
  );
});

/** Starts a command, returns the first log line matching `want`, or null once the server listens. */
function firstLine(
  command: string,
  args: string[],
  want: (msg: string) => boolean,
): Promise<{ line: string | null; listened: boolean }> {
  // npm's own variables from an outer `npm test` must not leak into the process under test.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')),
  );
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    let found: string | null = null;
    const timer = setTimeout(() => finish(new Error(`no "listening" line:\n${buffer}`)), 60_000);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      child.once('exit', () => (err ? reject(err) : resolve({ line: found, listened: true })));
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const text of buffer.split('\n')) {
        let msg: string;
        try {
          msg = String((JSON.parse(text) as { msg?: unknown }).msg);
        } catch {
          continue;
        }
        if (found === null && want(msg)) found = msg;
        if (msg === 'listening') {
          child.stdout!.off('data', onData);
          child.stderr!.off('data', onData);
          finish();
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

const SERVE = [
  'serve',
  'examples/hello/app.ts',
  '--workers',
  '1',
  '--bind',
  '127.0.0.1:0',
  '--admin',
  '127.0.0.1:0',
  '--log-format',
  'json',
];

test('peregrine serve under a real `npm exec` logs one line with the command that runs it without npm; started directly it does not', async () => {
  const advice = (msg: string) => msg.startsWith('started by ');
  const underNpm = await firstLine(
    'npm',
    ['exec', '--offline', '--', process.execPath, '--conditions=peregrine-source', BIN, ...SERVE],
    advice,
  );
  assert.ok(underNpm.line !== null, 'no advice under npm exec');
  assert.match(underNpm.line, /^started by npm exec \(npx\): npm stays resident/);
  assert.match(underNpm.line, /node bin\/peregrine\.js serve examples\/hello\/app\.ts --workers 1/);
  const direct = await firstLine(
    process.execPath,
    ['--conditions=peregrine-source', BIN, ...SERVE],
    advice,
  );
  assert.equal(direct.line, null);
});
