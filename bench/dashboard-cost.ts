/**
 * What an open dashboard costs the service. One `peregrine serve` (2 workers, the fixture service
 * of the dashboard tests) is loaded by wrk on a mix of routes in alternating phases: no viewer,
 * then a viewer that polls every `/api/*` endpoint once a second (what the page does, and more:
 * the page polls only the panel in view). Phases alternate `--rounds` times in the same run, so
 * the machine's load is shared alike; it prints the throughput of each phase, the ratio, and the
 * master's CPU (from /proc) and memory.
 *
 *   flock /tmp/peregrine-load.lock node --conditions=peregrine-source bench/dashboard-cost.ts --rounds 3 --seconds 10
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TICK = 100; // clock ticks per second in /proc/PID/stat (USER_HZ on Linux)

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

async function start(): Promise<{ proc: ChildProcess; port: number; admin: number; pid: number }> {
  const proc = spawn(
    process.execPath,
    [
      '--conditions=peregrine-source',
      'bin/peregrine.js',
      'serve',
      'test/fixtures/dashboard/app.ts',
      '--workers',
      '2',
      '--bind',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--log-format',
      'json',
      '--shed-delay',
      '0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let port = 0;
  let admin = 0;
  let ready = 0;
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    proc.stderr!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { msg?: string; address?: string; addresses?: string[] };
          if (j.msg === 'admin listening') admin = Number(j.address!.split(':').pop());
          if (j.msg === 'listening') port = Number(j.addresses![0]!.split(':').pop());
          if (j.msg === 'worker ready') ready++;
        } catch {
          // not JSON
        }
      }
      if (port > 0 && admin > 0 && ready >= 2) resolve();
    });
  });
  return { proc, port, admin, pid: proc.pid! };
}

const LUA = `
local paths = { "/items/1", "/items/2", "/cached/a", "/cached/b", "/echo/x", "/missing" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end`;

/** Runs wrk (asynchronously: the viewer polls meanwhile); resolves to requests/s. */
async function load(port: number): Promise<number> {
  const script = `/tmp/peregrine-dashboard-cost-${process.pid}.lua`;
  writeFileSync(script, LUA);
  const wrk = spawn(
    'wrk',
    [
      '-t',
      '1',
      '-c',
      values.connections!,
      '-d',
      `${SECONDS}s`,
      '-s',
      script,
      `http://127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  wrk.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  wrk.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await new Promise((resolve) => wrk.on('exit', resolve));
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (m === null) throw new Error(`wrk said: ${out}`);
  return Number(m[1]);
}

const API = [
  'overview?window=15m',
  'endpoints?window=15m',
  'dependencies?window=15m',
  'workers',
  'events?limit=200',
  'traces?kind=recent',
  'traces?kind=slowest',
  'traces?kind=failed',
];

/** Polls every API endpoint once a second until stopped; resolves to the bytes read. */
function poll(admin: number): { stop: () => Promise<{ polls: number; bytes: number }> } {
  let stopped = false;
  let polls = 0;
  let bytes = 0;
  const done = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      const bodies = await Promise.all(
        API.map((p) => fetch(`http://127.0.0.1:${admin}/api/${p}`).then((r) => r.arrayBuffer())),
      );
      for (const b of bodies) bytes += b.byteLength;
      polls++;
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
    }
    return { polls, bytes };
  })();
  return {
    stop: () => {
      stopped = true;
      return done;
    },
  };
}

const server = await start();
try {
  await load(server.port); // warm-up (JIT, connections), not counted
  const rows: Array<{
    round: number;
    phase: string;
    rps: number;
    masterCpu: number;
    extra: string;
  }> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const phase of ['no viewer', 'viewer'] as const) {
      const cpu0 = cpuSeconds(server.pid);
      const self0 = process.cpuUsage();
      const viewer = phase === 'viewer' ? poll(server.admin) : undefined;
      const rps = await load(server.port);
      const seen = await viewer?.stop();
      const masterCpu = (cpuSeconds(server.pid) - cpu0) / SECONDS;
      const self = process.cpuUsage(self0);
      // The poller (the "browser") runs on this machine too and takes CPU from the workers.
      const pollerCpu = (self.user + self.system) / 1e6 / SECONDS;
      rows.push({
        round,
        phase,
        rps,
        masterCpu,
        extra: seen
          ? `${seen.polls} polls, ${(seen.bytes / seen.polls / 1024).toFixed(0)} KiB each; the poller took ${(pollerCpu * 100).toFixed(1)} % of a core`
          : '',
      });
    }
  }
  const workers = (await (await fetch(`http://127.0.0.1:${server.admin}/api/workers`)).json()) as {
    master: { historyBytes: number };
  };
  console.log('round  phase       requests/s  master CPU');
  for (const r of rows) {
    console.log(
      `${String(r.round).padEnd(6)} ${r.phase.padEnd(11)} ${r.rps.toFixed(0).padStart(10)}  ${(r.masterCpu * 100).toFixed(1).padStart(5)} %  ${r.extra}`,
    );
  }
  const sum = (phase: string) =>
    rows.filter((r) => r.phase === phase).reduce((n, r) => n + r.rps, 0);
  const ratio = sum('viewer') / sum('no viewer');
  const cpu = (phase: string) =>
    rows.filter((r) => r.phase === phase).reduce((n, r) => n + r.masterCpu, 0) / ROUNDS;
  console.log(
    `throughput with a viewer / without: ${ratio.toFixed(3)} (${((1 - ratio) * 100).toFixed(1)} % cost)`,
  );
  console.log(
    `master CPU: ${(cpu('no viewer') * 100).toFixed(1)} % of a core without a viewer, ${(cpu('viewer') * 100).toFixed(1)} % with`,
  );
  console.log(
    `master RSS ${(rssBytes(server.pid) / 1048576).toFixed(1)} MiB; history ${(workers.master.historyBytes / 1048576).toFixed(2)} MiB`,
  );
} finally {
  server.proc.kill('SIGTERM');
}
