import { parseArgs } from 'node:util';
import { type ApmOptions, ApmServer } from '../apm/server.ts';
import { EXIT } from '../server/exit-codes.ts';

const USAGE = `Usage: peregrine apm [options]

Receives OTLP/HTTP from many services (Peregrine or any OpenTelemetry SDK), stores spans and
metric points in an embedded SQLite file, builds the service map at ingest, and serves its pages
(the map, services, traces: http://127.0.0.1:9465/) and the JSON API.

Options:
  --otlp HOST:PORT          OTLP/HTTP receiver (/v1/traces, /v1/metrics) (default 127.0.0.1:4318)
  --api HOST:PORT           the pages (/) and the JSON API (/api/map, /api/traces…) (default 127.0.0.1:9465)
  --db FILE                 SQLite store (default ./peregrine-apm.db; ":memory:" keeps nothing)
  --retention DURATION      delete spans and points older than this: 90s, 30m, 24h, 7d (default 24h)
  --retention-size MIB      delete the oldest spans while the store is larger (default 1024)
  --queue N                 spans and points waiting for the store before senders get 503 (default 100000)
  --max-body MIB            largest request body after gunzip (default 16)
  --max-request-spans N     most spans (or points) in one request; more get 413 (default 50000)
  --max-attribute-length N  longer string attribute values are cut to N characters (default 4096)
  --pair-wait MS            how long a client or server span waits for its other half (default 10000)
  -h, --help                show this help
`;

function fail(message: string): number {
  process.stderr.write(`peregrine apm: ${message}\n(see peregrine apm --help)\n`);
  return EXIT.USAGE;
}

function address(v: string, what: string): [string, number] {
  const i = v.lastIndexOf(':');
  const host = i <= 0 ? '127.0.0.1' : v.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(i === -1 ? v : v.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${what}: bad port in ${v}`);
  return [host, port];
}

function positive(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got ${v}`);
  return n;
}

/** A duration such as 90s, 30m, 24h or 7d (bare numbers are seconds), in ms. */
export function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (m === null) throw new Error(`--retention: a duration like 30m, 24h or 7d, got ${v}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}

/** `peregrine apm [options]`: runs until SIGTERM or SIGINT; resolves to the exit code. */
export async function apmCommand(argv: readonly string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        otlp: { type: 'string' },
        api: { type: 'string' },
        db: { type: 'string' },
        retention: { type: 'string' },
        'retention-size': { type: 'string' },
        queue: { type: 'string' },
        'max-body': { type: 'string' },
        'max-request-spans': { type: 'string' },
        'max-attribute-length': { type: 'string' },
        'pair-wait': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return EXIT.OK;
  }
  const options: Partial<ApmOptions> = {};
  const s = (k: string) => values[k] as string | undefined;
  try {
    if (s('otlp') !== undefined)
      [options.otlpHost, options.otlpPort] = address(s('otlp')!, '--otlp');
    if (s('api') !== undefined) [options.apiHost, options.apiPort] = address(s('api')!, '--api');
    if (s('db') !== undefined) options.db = s('db')!;
    if (s('retention') !== undefined) options.retentionMs = durationMs(s('retention')!);
    if (s('retention-size') !== undefined) {
      options.retentionBytes = positive(s('retention-size')!, '--retention-size') * 1024 * 1024;
    }
    if (s('queue') !== undefined) options.queueLimit = Math.floor(positive(s('queue')!, '--queue'));
    if (s('max-body') !== undefined) {
      options.maxBodyBytes = Math.floor(positive(s('max-body')!, '--max-body') * 1024 * 1024);
    }
    if (s('max-request-spans') !== undefined) {
      options.maxItemsPerRequest = Math.floor(
        positive(s('max-request-spans')!, '--max-request-spans'),
      );
    }
    if (s('max-attribute-length') !== undefined) {
      options.maxAttributeLength = Math.floor(
        positive(s('max-attribute-length')!, '--max-attribute-length'),
      );
    }
    if (s('pair-wait') !== undefined) options.pairWaitMs = positive(s('pair-wait')!, '--pair-wait');
  } catch (err) {
    return fail((err as Error).message);
  }
  const log = (line: Record<string, unknown>) =>
    process.stdout.write(
      `${JSON.stringify({ time: new Date().toISOString(), role: 'apm', ...line })}\n`,
    );
  let apm: ApmServer;
  let ports: { otlpPort: number; apiPort: number };
  try {
    apm = new ApmServer(options, log);
    ports = await apm.start();
  } catch (err) {
    process.stderr.write(`peregrine apm: cannot start: ${(err as Error).message}\n`);
    return (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? EXIT.BIND_ERROR : EXIT.CRASH;
  }
  const o = apm.options;
  log({
    level: 'info',
    msg: 'apm listening',
    otlp: `http://${o.otlpHost}:${ports.otlpPort}`,
    api: `http://${o.apiHost}:${ports.apiPort}`,
    otlpPort: ports.otlpPort,
    apiPort: ports.apiPort,
    db: o.db,
  });
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.removeAllListeners('SIGTERM');
      process.removeAllListeners('SIGINT');
      log({ level: 'info', msg: 'apm stopping', signal, ...apm.currentStats() });
      apm.close().then(
        () => resolve(EXIT.OK),
        (err: unknown) => {
          process.stderr.write(`peregrine apm: ${(err as Error).message}\n`);
          resolve(EXIT.CRASH);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
