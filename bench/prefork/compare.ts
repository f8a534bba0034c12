/**
 * Measures the pre-fork server against its baselines with wrk (run under the shared lock):
 *
 *   flock /tmp/peregrine-load.lock node bench/prefork/compare.ts [--duration 8] [--rounds 1]
 *     [--only 'NAME|NAME']
 *
 * Targets: the single-process serve() function, `peregrine serve --workers 1`, `--workers 2`
 * (round-robin and --reuse-port) and a raw node:cluster of 2 workers. For each it reports
 * requests/s and p99 from wrk, and the server's CPU time per response (all its processes), which
 * stays comparable on a busy machine where requests/s does not. Uses the built package (dist/).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '64' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const ROOT = new URL('../..', import.meta.url).pathname;
const PORT = 18_500 + Math.floor(Math.random() * 400);

interface Target {
  name: string;
  paths: string[];
  start: () => ChildProcess;
}

const peregrine = (extra: string[]) => () =>
  spawn(
    process.execPath,
    [
      'bin/peregrine.js',
      'serve',
      'examples/hello/app.ts',
      '--bind',
      `127.0.0.1:${PORT}`,
      '--admin',
      'off',
      '--log-format',
      'json',
      '--log-level',
      'warn',
      ...extra,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );

const TARGETS: Target[] = [
  {
    name: 'serve() single process, no deadline',
    paths: ['/json'],
    start: () =>
      spawn(process.execPath, ['bench/prefork/single.ts', String(PORT)], {
        cwd: ROOT,
        env: { ...process.env, RT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
  },
  {
    name: 'serve() single process',
    paths: ['/json'],
    start: () =>
      spawn(process.execPath, ['bench/prefork/single.ts', String(PORT)], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
  },
  { name: 'peregrine serve -w 1', paths: ['/json'], start: peregrine(['--workers', '1']) },
  {
    name: 'peregrine serve -w 1 --no-watchdog-stack',
    paths: ['/json'],
    start: peregrine(['--workers', '1', '--no-watchdog-stack']),
  },
  {
    name: 'peregrine serve -w 1 --request-timeout 0',
    paths: ['/json'],
    start: peregrine(['--workers', '1', '--request-timeout', '0']),
  },
  {
    name: 'peregrine serve -w 1 --reuse-port',
    paths: ['/json'],
    start: peregrine(['--workers', '1', '--reuse-port']),
  },
  {
    name: 'peregrine serve -w 1 --shed-delay 0',
    paths: ['/json'],
    start: peregrine(['--workers', '1', '--shed-delay', '0']),
  },
  {
    name: 'peregrine serve -w 2',
    paths: ['/json', '/plaintext'],
    start: peregrine(['--workers', '2']),
  },
  {
    name: 'peregrine serve -w 2 --reuse-port',
    paths: ['/json', '/plaintext'],
    start: peregrine(['--workers', '2', '--reuse-port']),
  },
  {
    name: 'raw node:cluster x2',
    paths: ['/json', '/plaintext'],
    start: () =>
      spawn(process.execPath, ['bench/prefork/raw-cluster.ts', String(PORT), '2'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
  },
];

function treeTicks(root: number): number {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(f[1]));
      ticks.set(Number(entry), Number(f[11]) + Number(f[12]));
    } catch {
      // gone
    }
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== root) p = parents.get(p);
    if (p === root) total += t;
  }
  return total;
}

async function waitUp(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${PORT}/json`);
      if (r.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not come up');
}

function wrk(
  path: string,
  seconds: number,
): { rps: number; p99: string; requests: number; errors: string } {
  const out = execFileSync(
    'wrk',
    [
      '-t1',
      `-c${values.connections}`,
      `-d${seconds}s`,
      '--latency',
      `http://127.0.0.1:${PORT}${path}`,
    ],
    { encoding: 'utf8' },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+[a-z]+)/.exec(out)?.[1] ?? '?';
  const errors = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx.*/.exec(out)?.[0]]
    .filter(Boolean)
    .join('; ');
  return { rps, p99, requests, errors };
}

const seconds = Number(values.duration);
// Target names contain commas and spaces: --only takes exact names separated by '|'.
const only = values.only?.split('|');
const selected = TARGETS.filter((t) => only === undefined || only.includes(t.name));
const rows: string[][] = [['target', 'path', 'req/s', 'p99', 'CPU µs/req', 'errors']];
for (let round = 0; round < Number(values.rounds); round++)
  for (const target of selected) {
    const child = target.start();
    try {
      await waitUp();
      for (const path of target.paths) {
        wrk(path, 2); // warm-up
        const before = treeTicks(child.pid!);
        const r = wrk(path, seconds);
        const cpuMs = (treeTicks(child.pid!) - before) * 10;
        rows.push([
          target.name,
          path,
          r.rps.toFixed(0),
          r.p99,
          ((cpuMs * 1000) / r.requests).toFixed(1),
          r.errors || '-',
        ]);
        process.stderr.write(`${rows.at(-1)!.join('  ')}\n`);
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
process.stdout.write(
  `${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n')}\n`,
);
