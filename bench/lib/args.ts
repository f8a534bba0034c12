import { parseArgs } from 'node:util';
import { isTestName, TEST_NAMES, type TestName } from './catalogue.ts';

/** What `npm run bench` was asked to do. */
export interface BenchOptions {
  /** `techempower` (default), `scaling`, `list` or `help`. */
  mode: 'techempower' | 'scaling' | 'list' | 'help';
  /** Tests to run, in catalogue order. */
  tests: TestName[];
  /** Server variants to run (undefined: every available one, or the quick set). */
  servers: string[] | undefined;
  /** Connection counts; each test runs at each. */
  connections: number[];
  /** Seconds of each measured run. */
  duration: number;
  /** Seconds of warm-up before each measured run. */
  warmup: number;
  /** Measured runs per server and test; the median is reported. */
  repeats: number;
  /** N of queries, updates and cached-queries. */
  queries: number;
  /** Database connections per node (shared among a server's workers), the same for every server. */
  pool: number;
  /** Load generator. */
  load: 'auto' | 'wrk' | 'autocannon';
  /** Pin server and load generator to different cores with taskset. */
  pin: boolean;
  /** The quick check: fewer tests, one short run each. */
  quick: boolean;
  /** Connection counts of the scaling test. */
  scalingConnections: number[];
  /** Milliseconds the scaling test's responder awaits. */
  scalingDelay: number;
  /** Where the JSON results go (default: bench/results/latest.json or scaling.json). */
  output: string | undefined;
  /** PostgreSQL URL for the db tests. */
  databaseUrl: string;
}

/** A bad command line; the message says what is wrong. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The tests `--quick` runs unless `--only` says otherwise: those with targets. */
export const QUICK_TESTS: readonly TestName[] = ['json', 'plaintext', 'db', 'fortunes'];

/** The usage text. */
export const USAGE = `Usage: npm run bench -- [options]

Runs the TechEmpower test types against Peregrine and its peers on this machine and writes
bench/results/latest.json. Run it under the shared lock:
  flock /tmp/peregrine-load.lock npm run bench -- --quick

Options:
  --quick               a check in under 2 minutes: ${QUICK_TESTS.join(', ')}; single-process
                        servers; 1 s warm-up, one 2 s run
  --only TESTS          comma-separated tests: ${TEST_NAMES.join(', ')}
  --servers NAMES       comma-separated server variants (see --list)
  -c, --connections N   connection counts, comma-separated (default 64)
  --duration S          seconds per measured run (default 8)
  --warmup S            seconds of warm-up before each run (default 3)
  --repeats N           measured runs per server and test; the median counts (default 3)
  --queries N           N for queries, updates and cached-queries (default 20)
  --pool N              database connections per node, the same for every server (default 16)
  --load TOOL           wrk | autocannon | auto (default auto: wrk when installed)
  --no-pin              do not pin server and load generator to different cores
  --scaling             run the scaling test instead (one worker, I/O-bound responder)
  --scaling-connections N
                        connection counts of the scaling test (default 100,1000,10000)
  --scaling-delay MS    how long the scaling responder awaits (default 50)
  --output FILE         where to write the JSON results
  --database-url URL    PostgreSQL for the db tests (default $DATABASE_URL)
  --list                list tests and server variants, then exit
  -h, --help            show this help
`;

function positiveInt(name: string, raw: string, min = 1): number {
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, not "${raw}"`);
  const n = Number(raw);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}`);
  return n;
}

function seconds(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new UsageError(`--${name} must be a number of seconds >= ${min}, not "${raw}"`);
  }
  return n;
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function intList(name: string, raw: string): number[] {
  const values = list(raw).map((s) => positiveInt(name, s));
  if (values.length === 0) throw new UsageError(`--${name} needs at least one value`);
  return [...new Set(values)];
}

/** Parses the command line of `npm run bench`; throws UsageError on bad input. */
export function parseBenchArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): BenchOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(argv));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const quick = values.quick === true;
  let mode: BenchOptions['mode'] = 'techempower';
  if (values.help) mode = 'help';
  else if (values.list) mode = 'list';
  else if (values.scaling) mode = 'scaling';

  let tests: TestName[] = quick ? [...QUICK_TESTS] : [...TEST_NAMES];
  if (values.only !== undefined) {
    const wanted = list(values.only);
    if (wanted.length === 0) throw new UsageError('--only needs at least one test');
    for (const t of wanted) {
      if (!isTestName(t)) {
        throw new UsageError(`unknown test "${t}"; tests are ${TEST_NAMES.join(', ')}`);
      }
    }
    tests = TEST_NAMES.filter((t) => wanted.includes(t));
  }

  let servers: string[] | undefined;
  if (values.servers !== undefined) {
    servers = [...new Set(list(values.servers))];
    if (servers.length === 0) throw new UsageError('--servers needs at least one name');
  }

  const load = values.load ?? 'auto';
  if (load !== 'auto' && load !== 'wrk' && load !== 'autocannon') {
    throw new UsageError(`--load must be wrk, autocannon or auto, not "${load}"`);
  }

  return {
    mode,
    tests,
    servers,
    connections: values.connections ? intList('connections', values.connections) : [64],
    duration: values.duration ? seconds('duration', values.duration, 1) : quick ? 2 : 8,
    warmup: values.warmup ? seconds('warmup', values.warmup, 0) : quick ? 1 : 3,
    repeats: values.repeats ? positiveInt('repeats', values.repeats) : quick ? 1 : 3,
    queries: values.queries ? Math.min(500, positiveInt('queries', values.queries)) : 20,
    pool: values.pool ? positiveInt('pool', values.pool) : 16,
    load,
    pin: values['no-pin'] !== true,
    quick,
    scalingConnections: values['scaling-connections']
      ? intList('scaling-connections', values['scaling-connections'])
      : [100, 1000, 10_000],
    scalingDelay: values['scaling-delay']
      ? positiveInt('scaling-delay', values['scaling-delay'], 0)
      : 50,
    output: values.output,
    databaseUrl:
      values['database-url'] ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      servers: { type: 'string' },
      connections: { type: 'string', short: 'c' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      repeats: { type: 'string' },
      queries: { type: 'string' },
      pool: { type: 'string' },
      load: { type: 'string' },
      'no-pin': { type: 'boolean' },
      scaling: { type: 'boolean' },
      'scaling-connections': { type: 'string' },
      'scaling-delay': { type: 'string' },
      output: { type: 'string' },
      'database-url': { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
