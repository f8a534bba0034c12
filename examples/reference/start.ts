/**
 * `npm start`: the reference system (system.ts) in the foreground. Prints where everything is,
 * runs bounded traffic, prints what the services log at warn and above and a traffic line every
 * 10 s; Ctrl-C (SIGINT) or SIGTERM stops every process and exits 0.
 *
 *   npm start                         # apps on 8080–8083, dashboards 9471–9473, apm 4318/9465
 *   npm start -- --no-traffic         # no generated traffic: call the gateway yourself
 *   npm start -- --minutes 2 --rate 10
 *   npm start -- --requests 500       # stop the traffic after 500 requests
 *   npm start -- --base-port 7000     # 7000–7008 instead (0: free ports)
 *   npm start -- --data-dir /tmp/ref  # where catalog.db and apm.db go (default ./data/reference)
 *   npm start -- --verbose            # every log line of every process
 *   DATABASE_URL=postgres://… REDIS_URL=redis://… npm start   # PostgreSQL + Redis
 */
import { parseArgs } from 'node:util';
import { type ReferenceSystem, startReferenceSystem, type TrafficSummary } from './system.ts';

const USAGE = `Usage: npm start -- [--no-traffic] [--minutes N] [--rate N] [--requests N]
                    [--base-port N] [--data-dir DIR] [--verbose]
`;

function fail(message: string): never {
  process.stderr.write(`npm start: ${message}\n${USAGE}`);
  process.exit(2);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      'no-traffic': { type: 'boolean', default: false },
      minutes: { type: 'string', default: '5' },
      rate: { type: 'string', default: '4' },
      requests: { type: 'string' },
      'base-port': { type: 'string' },
      'data-dir': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  args = parse();
} catch (err) {
  fail((err as Error).message);
}
if (args.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const number = (name: string, text: string | undefined, min: number, max: number) => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    fail(`--${name} must be a number from ${min} to ${max}`);
  }
  return n;
};
const minutes = number('minutes', args.values.minutes, 0.1, 24 * 60)!;
const rate = number('rate', args.values.rate, 0.1, 100)!;
const requests = number('requests', args.values.requests, 1, 10_000_000);
const basePort = number('base-port', args.values['base-port'], 0, 65_535 - 8);
const verbose = args.values.verbose;

const say = (text: string) => process.stdout.write(`${text}\n`);
const pad = (name: string) => name.padEnd(9);

/** A service's log line, shortened: the level and message (and error), or all of it. */
function show(source: string, line: string): void {
  if (verbose) {
    process.stderr.write(`${pad(source)}| ${line}\n`);
    return;
  }
  if (!line.startsWith('{')) {
    // Pretty or plain text (the OpenTelemetry SDK's own warnings): always shown.
    process.stderr.write(`${pad(source)}| ${line}\n`);
    return;
  }
  try {
    const l = JSON.parse(line) as {
      level?: string | number;
      msg?: string;
      err?: { message?: string };
    };
    const level =
      typeof l.level === 'number'
        ? l.level >= 50
          ? 'error'
          : l.level >= 40
            ? 'warn'
            : 'info'
        : l.level;
    // The failing SKUs' errors are expected (one line per service per call): the map shows them.
    const perRequest = l.msg === 'unhandled error' || l.msg === 'server error response';
    if ((level === 'warn' || level === 'error' || level === 'fatal') && !perRequest) {
      const err = l.err?.message === undefined ? '' : `: ${l.err.message}`;
      process.stderr.write(`${pad(source)}| ${level} ${l.msg ?? ''}${err}\n`);
    }
  } catch {
    process.stderr.write(`${pad(source)}| ${line}\n`);
  }
}

function trafficLine(s: TrafficSummary, done: boolean): string {
  const b = s.byStatus;
  return (
    `traffic${done ? ' done' : ''}: ${s.sent} requests — ${b['2xx']} 2xx, ${b['4xx']} 4xx, ` +
    `${b['5xx']} 5xx, ${b.failed} without an answer${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`
  );
}

/** Resolves with the system once started, or undefined when it did not start. */
let starting: Promise<ReferenceSystem | undefined> = Promise.resolve(undefined);
let stopping: Promise<void> | undefined;
function stop(code: number): void {
  if (stopping !== undefined) return;
  say('stopping…');
  // A signal during start-up: the start finishes (or fails, its processes stopped), then stops.
  stopping = starting
    .then((system) => system?.stop())
    .then(
      () => {
        say('stopped');
        process.exit(code);
      },
      (err: unknown) => {
        process.stderr.write(`npm start: stopping failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
}
// A Ctrl-C in the terminal reaches every process of the group: the services stop on it by
// themselves, and stop() waits for them all. A closed terminal (HUP) stops it too: to the
// services HUP means reload, so they would outlive it otherwise.
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('SIGHUP', () => stop(0));
// The npm script execs this process so npm's forwarded signals reach it; should whatever
// started it die anyway (killed with no signal passed on), stop rather than leave an orphaned
// system running.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop(0);
}, 500).unref();

const startedAt = Date.now();
say('starting the reference system: peregrine apm, pricing, inventory, catalog, gateway…');
starting = startReferenceSystem({
  traffic: args.values['no-traffic']
    ? false
    : {
        rate,
        durationMs: minutes * 60_000,
        ...(requests === undefined ? {} : { maxRequests: requests }),
        onReport: (s, done) => say(trafficLine(s, done)),
      },
  ...(basePort === undefined ? {} : { basePort }),
  ...(args.values['data-dir'] === undefined ? {} : { dataDir: args.values['data-dir'] }),
  onLog: show,
  onExit: (source, code, signal) => {
    if (stopping !== undefined) return;
    process.stderr.write(`${source} exited (${signal ?? code}): stopping everything\n`);
    stop(1);
  },
}).catch((err: unknown) => {
  // Failing because a signal stopped its processes is no failure.
  if (stopping === undefined) {
    // The processes' errors were shown as they came; the rest of the tail with --verbose.
    const message = (err as Error).message;
    process.stderr.write(`npm start: ${verbose ? message : message.split('\n')[0]}\n`);
    if (/ exited \(5\) while starting/.test(message)) {
      process.stderr.write(
        'npm start: a port it needs is in use; `npm start -- --base-port N` moves them all to N…N+8\n',
      );
    }
    process.exit(1);
  }
  return undefined;
});
const system = await starting;
if (system !== undefined && stopping === undefined) {
  const u = system.urls;
  const t = system.mode;
  say(`
ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s — catalog on ${t.database === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, cache ${t.cache === 'local' ? 'in-process' : 'in-process + Redis'}

  gateway (the public API)   ${u.gateway}/products   ${u.gateway}/products/TENT-2P
  apm: the map (pages)       ${u.apmApi}/
  apm: service map (JSON)    ${u.apmMap}
  apm: services, traces      ${u.apmApi}/api/services   ${u.apmApi}/api/traces?status=error
  gateway dashboard          ${u.dashboards.gateway}
  catalog dashboard          ${u.dashboards.catalog}
  pricing dashboard          ${u.dashboards.pricing}
  inventory (OpenTelemetry SDK, no Peregrine)   ${u.services.inventory}/stock/TENT-2P

${
  system.traffic === undefined
    ? 'no traffic generated (--no-traffic): try curl ' +
      `${u.gateway}/products/KAYAK-SEA (slow) or /products/LANTERN-OLD (fails)`
    : `traffic: ${rate}/s to the gateway for ${minutes} min${requests === undefined ? '' : ` or ${requests} requests`} (fast, slow, failing and 404 calls)`
}
Logs: warnings and errors of the services, except the failing calls' own (--verbose: all).
Ctrl-C stops everything.
`);
}
