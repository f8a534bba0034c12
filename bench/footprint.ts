/**
 * `npm run bench:footprint`: what a process costs, side by side in one run — idle RSS of a hello
 * server (raw node:http, a bare node:cluster pair, Fastify, Peregrine's master and workers, and
 * Node's own floor), the time to a first 200, a worker's boot, a reload of the workers, and one
 * worker holding many idle keep-alive connections while 64 others are served at full rate.
 * Peregrine runs as users run it in production: `node bin/peregrine.js serve` from dist/ (build
 * first; `npm install` does). Hold /tmp/peregrine-load.lock around it. See docs/performance.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('..', import.meta.url).pathname;
const HERE = join(ROOT, 'bench', 'footprint');
// The servers run as JavaScript: Node's type stripper (amaro, a WebAssembly build of swc) costs a
// process ~17 MiB of RSS, which a compiled service does not pay. Stripped here, once, into a
// folder under the checkout so that `fastify` and `peregrine` resolve from node_modules.
const JS = join(ROOT, '.tmp', 'footprint');
function toJs(from: string, name: string): string {
  const source = stripTypeScriptTypes(readFileSync(from, 'utf8')).replace(
    /from '\.\/([\w-]+)\.ts'|import\('\.\/([\w-]+)\.ts'\)/g,
    (m, a: string | undefined, b: string | undefined) => m.replace(`${a ?? b}.ts`, `${a ?? b}.mjs`),
  );
  mkdirSync(JS, { recursive: true });
  const to = join(JS, name);
  writeFileSync(to, source);
  return to;
}
const NODE = process.execPath;

const { values: opts } = parseArgs({
  options: {
    idle: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  process.stdout.write(
    'Usage: npm run bench:footprint -- [--idle N (10000)] [--duration S (5)] [--workers N (2)]\n',
  );
  process.exit(0);
}
const IDLE = Number(opts.idle);
const DURATION = Number(opts.duration);
const WORKERS = Number(opts.workers);

// ---- measuring a process -------------------------------------------------------------------

interface Memory {
  /** Resident set, MiB (what `ps` and the table show). */
  rss: number;
  /** Proportional set, MiB: shared pages (Node's binary, mostly) divided among the processes. */
  pss: number;
  /** Private pages, MiB: what this process alone costs. */
  uss: number;
  /** Peak RSS so far, MiB (VmHWM). */
  peak: number;
}

function memory(pid: number): Memory {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(roll)?.[1]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const peak = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1]);
  return {
    rss: kib('Rss') / 1024,
    pss: kib('Pss') / 1024,
    uss: (kib('Private_Clean') + kib('Private_Dirty')) / 1024,
    peak: peak / 1024,
  };
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  port: number;
  startedAt: number;
  /** JSON log lines with the time the bench read them. */
  logs: Array<{ msg?: string; seenAt: number; [k: string]: unknown }>;
  stop(): Promise<void>;
}

function start(args: string[], env: NodeJS.ProcessEnv, port: number): Started {
  const startedAt = performance.now();
  const child = spawn(NODE, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const logs: Started['logs'] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      try {
        logs.push({ ...(JSON.parse(line) as object), seenAt: performance.now() });
      } catch {
        if (line.trim() !== '') process.stderr.write(`  | ${line}\n`);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    port,
    startedAt,
    logs,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
      }, 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Milliseconds from spawn to the first 200 on /json. */
async function firstOk(s: Started): Promise<number> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/json`);
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - s.startedAt;
    } catch {}
    await sleep(5);
  }
  throw new Error('no 200 within 30 s');
}

async function warm(port: number, n = 200): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/json`);
    await r.arrayBuffer();
  }
}

function waitLog(s: Started, match: (l: Started['logs'][number]) => boolean, from = 0) {
  return new Promise<Started['logs'][number]>((resolve, reject) => {
    const deadline = performance.now() + 30_000;
    const check = () => {
      const hit = s.logs.slice(from).find(match);
      if (hit) return resolve(hit);
      if (performance.now() > deadline) return reject(new Error('log line not seen in 30 s'));
      setTimeout(check, 5);
    };
    check();
  });
}

/** CPU time (user + system) a process has used, in µs (clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * `wrk` on /plaintext with the server's CPU per request: on a shared machine requests/s moves
 * with everyone else's load, the server's CPU time per request much less.
 */
function measured(port: number, pid: number): { rps: number; cpuPerReq: number } {
  const cpu0 = cpuMicros(pid);
  const t0 = performance.now();
  const rps = wrk(port);
  const requests = (rps * (performance.now() - t0)) / 1000;
  return { rps, cpuPerReq: (cpuMicros(pid) - cpu0) / requests };
}

/** Requests per second of `wrk -c64` on /plaintext (DURATION seconds by default). */
function wrk(port: number, seconds = DURATION): number {
  const out = execFileSync(
    'wrk',
    ['-t2', '-c64', `-d${seconds}s`, `http://127.0.0.1:${port}/plaintext`],
    { encoding: 'utf8' },
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  if (rps === undefined) throw new Error(`wrk said:\n${out}`);
  return Number(rps);
}

/** Opens `n` keep-alive connections, one request answered on each, then left idle. */
async function idleConnections(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from(
        { length: Math.min(batch, n - i) },
        () =>
          new Promise<void>((resolve, reject) => {
            const s = connect(port, '127.0.0.1', () => {
              s.write('GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n');
            });
            s.once('data', () => resolve());
            s.once('error', reject);
            s.on('error', () => {});
            sockets.push(s);
          }),
      ),
    );
  }
  return sockets;
}

// ---- the runs ------------------------------------------------------------------------------

const rows: Array<{ process: string; rss: number; pss: number; uss: number; boot?: string }> = [];
const fmt = (n: number) => n.toFixed(1);

function record(name: string, pid: number, boot?: string): Memory {
  const m = memory(pid);
  rows.push({ process: name, rss: m.rss, pss: m.pss, uss: m.uss, ...(boot ? { boot } : {}) });
  return m;
}

async function floor(): Promise<void> {
  const s = start(['-e', 'setInterval(() => {}, 1000)'], {}, 0);
  await sleep(1500);
  record('empty `node -e` (Node floor)', s.child.pid!);
  await s.stop();
}

async function single(name: string, file: string): Promise<void> {
  const s = start([file], {}, await freePort());
  const boot = await firstOk(s);
  await warm(s.port);
  await sleep(2000);
  record(name, s.child.pid!, `first 200 ${boot.toFixed(0)} ms`);
  await s.stop();
}

async function bareCluster(): Promise<void> {
  const s = start([SERVERS.cluster], { WORKERS: String(WORKERS) }, await freePort());
  const boot = await firstOk(s);
  await warm(s.port);
  await sleep(2000);
  record('bare node:cluster primary', s.child.pid!, `first 200 ${boot.toFixed(0)} ms`);
  const [w] = children(s.child.pid!);
  if (w !== undefined) record('bare node:cluster worker (raw http)', w);
  await s.stop();
}

function peregrineArgs(
  port: number,
  admin: number,
  workers: number,
  app: string,
  extra: string[] = [],
): string[] {
  return [
    join(ROOT, 'bin', 'peregrine.js'),
    'serve',
    app,
    '--workers',
    String(workers),
    '--bind',
    `127.0.0.1:${port}`,
    '--admin',
    `127.0.0.1:${admin}`,
    '--log-format',
    'json',
    ...extra,
  ];
}

const timings: string[] = [];

async function peregrine(label: string, app: string, extra: string[] = []): Promise<void> {
  const port = await freePort();
  const s = start(peregrineArgs(port, await freePort(), WORKERS, app, extra), {}, port);
  const boot = await firstOk(s);
  await waitLog(s, () => s.logs.filter((l) => l.msg === 'worker ready').length >= WORKERS);
  const boots = s.logs.filter((l) => l.msg === 'worker ready').map((l) => Number(l.bootMs));
  await warm(s.port);
  await sleep(2000);
  record(`Peregrine master (${label})`, s.child.pid!, `first 200 ${boot.toFixed(0)} ms`);
  const ws = children(s.child.pid!);
  ws.forEach((w, i) => {
    record(`Peregrine worker ${i + 1} (${label})`, w, `ready ${boots[i] ?? '?'} ms after spawn`);
  });
  // A reload: HUP, until every new worker is ready (the master logs "reload complete").
  const from = s.logs.length;
  const hup = performance.now();
  s.child.kill('SIGHUP');
  const done = await waitLog(s, (l) => l.msg?.startsWith('reload complete') === true, from);
  const reloadBoots = s.logs
    .slice(from)
    .filter((l) => l.msg === 'worker ready')
    .map((l) => Number(l.bootMs));
  timings.push(
    `Peregrine (${label}), ${WORKERS} workers: first 200 ${boot.toFixed(0)} ms after start; workers ready ${boots.join(', ')} ms after spawn; reload (HUP → every new worker ready) ${(done.seenAt - hup).toFixed(0)} ms (new workers ready ${reloadBoots.join(', ')} ms after spawn)`,
  );
  await s.stop();
}

interface IdleResult {
  server: string;
  base: number;
  withIdle: number;
  cpuBase: number;
  cpuIdle: number;
  before: number;
  after: number;
  peak: number;
}

async function idleTest(
  server: string,
  launch: (port: number) => Promise<Started>,
  pidOf: (s: Started) => number,
): Promise<IdleResult> {
  const port = await freePort();
  const s = await launch(port);
  await firstOk(s);
  await warm(s.port);
  const pid = pidOf(s);
  wrk(port, 1); // warm-up: the JIT settles before either measured run
  const { rps: base, cpuPerReq: cpuBase } = measured(port, pid);
  await sleep(1000);
  const before = memory(pid).rss;
  const sockets = await idleConnections(port, IDLE);
  await sleep(1500);
  const after = memory(pid).rss;
  const { rps: withIdle, cpuPerReq: cpuIdle } = measured(port, pid);
  const peak = memory(pid).peak;
  const open = sockets.filter((x) => !x.destroyed).length;
  for (const x of sockets) x.destroy();
  await s.stop();
  if (open < IDLE)
    process.stderr.write(`  ${server}: only ${open} of ${IDLE} idle connections stayed open\n`);
  return { server, base, withIdle, cpuBase, cpuIdle, before, after, peak };
}

// ---- main ----------------------------------------------------------------------------------

const limit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
if (limit < IDLE + 1000) {
  process.stderr.write(
    `bench:footprint: the open-file limit is ${limit}; ${IDLE} idle connections need ${IDLE + 1000} (npm run bench:footprint raises it to the hard limit; or pass --idle)\n`,
  );
  process.exit(2);
}

const SERVERS = {
  node: toJs(join(HERE, 'node-hello.ts'), 'node-hello.mjs'),
  cluster: toJs(join(HERE, 'cluster-hello.ts'), 'cluster-hello.mjs'),
  fastify: toJs(join(HERE, 'fastify-hello.ts'), 'fastify-hello.mjs'),
  helloJs: toJs(join(ROOT, 'examples', 'hello', 'app.ts'), 'hello-app.mjs'),
};
const HELLO_TS = 'examples/hello/app.ts';

await floor();
await single('raw node:http', SERVERS.node);
await bareCluster();
await single('Fastify 5', SERVERS.fastify);
await peregrine('hello app.ts', HELLO_TS);
await peregrine('hello as .mjs', SERVERS.helloJs);
// What the watchdog's stack-capturing thread (a second V8 isolate per worker) costs.
await peregrine('.mjs, --no-watchdog-stack', SERVERS.helloJs, ['--no-watchdog-stack']);

const idle: IdleResult[] = [];
idle.push(
  await idleTest(
    'raw node:http',
    async (port) => start([SERVERS.node], {}, port),
    (s) => s.child.pid!,
  ),
);
idle.push(
  await idleTest(
    'Peregrine worker (1 worker, .mjs hello)',
    async (port) => start(peregrineArgs(port, await freePort(), 1, SERVERS.helloJs), {}, port),
    (s) => children(s.child.pid!)[0]!,
  ),
);

const out: string[] = [];
out.push(`Idle hello server, after 200 requests (Node ${process.versions.node}):`);
out.push('| process | RSS MiB | PSS MiB | private MiB | boot |');
out.push('|---|---:|---:|---:|---|');
for (const r of rows)
  out.push(`| ${r.process} | ${fmt(r.rss)} | ${fmt(r.pss)} | ${fmt(r.uss)} | ${r.boot ?? ''} |`);
out.push('');
out.push(...timings);
out.push('');
out.push(
  `${IDLE} idle keep-alive connections on one process while wrk -c64 runs /plaintext for ${DURATION} s:`,
);
out.push(
  '| server | req/s without | req/s with idle | ratio | server CPU µs/req without → with | CPU ratio | RSS before → with idle MiB | peak RSS MiB | KiB per idle connection |',
);
out.push('|---|---:|---:|---:|---|---:|---|---:|---:|');
for (const r of idle) {
  out.push(
    `| ${r.server} | ${r.base.toFixed(0)} | ${r.withIdle.toFixed(0)} | ${(r.withIdle / r.base).toFixed(2)} | ${fmt(r.cpuBase)} → ${fmt(r.cpuIdle)} | ${(r.cpuBase / r.cpuIdle).toFixed(2)} | ${fmt(r.before)} → ${fmt(r.after)} | ${fmt(r.peak)} | ${(((r.after - r.before) * 1024) / IDLE).toFixed(1)} |`,
  );
}
process.stdout.write(`${out.join('\n')}\n`);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(ROOT, 'bench', 'results', 'footprint.json'),
  `${JSON.stringify({ node: process.versions.node, at: new Date().toISOString(), idle: IDLE, duration: DURATION, workers: WORKERS, processes: rows, timings, idleConnections: idle }, null, 2)}\n`,
);
