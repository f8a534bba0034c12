import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RunMeasurement } from './stats.ts';

/** A load to put on a server. */
export interface LoadSpec {
  /** Full URL (loopback). */
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Pipelining depth (1: none). */
  pipeline: number;
  /** Extra request headers. */
  headers: Record<string, string>;
  /** Cores for the load generator (taskset list), or null for no pinning. */
  cpus: string | null;
  /** Per-request timeout in seconds (wrk's default is 2). */
  timeout?: number;
}

/** What a load generator measures. */
export type LoadResult = Pick<
  RunMeasurement,
  'requests' | 'durationS' | 'rps' | 'p50Ms' | 'p99Ms' | 'errors' | 'non2xx'
>;

/** A load generator. */
export interface LoadGenerator {
  readonly name: 'wrk' | 'autocannon';
  readonly version: string;
  /** Runs a load; `onSpawn` learns the generator's pid (to account for its CPU). */
  run(spec: LoadSpec, onSpawn?: (pid: number) => void): Promise<LoadResult>;
}

const WRK_SCRIPT = fileURLToPath(new URL('../wrk/bench.lua', import.meta.url));

/** The fields wrk's `done` callback prints (see bench/wrk/bench.lua). */
export interface WrkReport {
  requests: number;
  duration_us: number;
  bytes: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  mean_us: number;
}

/** Extracts the summary line of bench.lua from wrk's output; throws if it is missing. */
export function parseWrkOutput(stdout: string): WrkReport {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error(`wrk printed no result line:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as WrkReport;
}

/** Turns wrk's report into a measurement. */
export function wrkMeasurement(r: WrkReport): LoadResult {
  const durationS = r.duration_us / 1e6;
  return {
    requests: r.requests,
    durationS,
    rps: durationS > 0 ? r.requests / durationS : 0,
    // wrk 4's percentile() can return 0 when its coordinated-omission correction has added
    // samples past the histogram (seen with pipelining): that is "unknown", not 0 ms.
    p50Ms: r.p50_us === 0 && r.max_us > 0 ? null : r.p50_us / 1000,
    p99Ms: r.p99_us === 0 && r.max_us > 0 ? null : r.p99_us / 1000,
    // wrk counts a response with status >= 400 as a "status" error; the others are socket-level.
    errors: r.connect + r.read + r.write + r.timeout,
    non2xx: r.status,
  };
}

/** The command line that raises the open-file limit to the hard limit, pins, and runs. */
export function wrapCommand(
  command: string,
  args: readonly string[],
  cpus: string | null,
): { file: string; args: string[] } {
  const inner = cpus === null ? [command, ...args] : ['taskset', '-c', cpus, command, ...args];
  // `ulimit -n` up to the hard limit: 10,000 connections need more than the usual 1,024 fds.
  return {
    file: 'bash',
    args: ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bench', ...inner],
  };
}

function collect(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  limitMs: number,
  onSpawn: ((pid: number) => void) | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${file} ${args.join(' ')} exited with ${code}:\n${err}${out}`));
    });
  });
}

/** wrk, driven through bench/wrk/bench.lua. One thread: one core is all it gets when pinned. */
export function wrk(version: string): LoadGenerator {
  return {
    name: 'wrk',
    version,
    async run(spec, onSpawn) {
      const args = [
        '-t1',
        `-c${spec.connections}`,
        `-d${spec.duration}s`,
        `--timeout`,
        `${spec.timeout ?? 2}s`,
        '-s',
        WRK_SCRIPT,
      ];
      for (const [k, v] of Object.entries(spec.headers)) args.push('-H', `${k}: ${v}`);
      args.push(spec.url);
      const cmd = wrapCommand('wrk', args, spec.cpus);
      const out = await collect(
        cmd.file,
        cmd.args,
        { ...process.env, BENCH_PIPELINE: String(spec.pipeline) },
        (spec.duration + 30) * 1000,
        onSpawn,
      );
      return wrkMeasurement(parseWrkOutput(out));
    },
  };
}

/** The parts of autocannon's JSON output the suite reads. */
export interface AutocannonReport {
  requests: { total: number; sent?: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** Turns autocannon's JSON report into a measurement. */
export function autocannonMeasurement(r: AutocannonReport): LoadResult {
  return {
    requests: r.requests.total,
    durationS: r.duration,
    rps: r.duration > 0 ? r.requests.total / r.duration : 0,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** autocannon (from devDependencies), run as its own pinned process like wrk. */
export function autocannon(version: string): LoadGenerator {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  return {
    name: 'autocannon',
    version,
    async run(spec, onSpawn) {
      const args = [
        bin,
        '-c',
        String(spec.connections),
        '-d',
        String(spec.duration),
        '-p',
        String(spec.pipeline),
        '-t',
        String(spec.timeout ?? 10),
        '-j',
      ];
      for (const [k, v] of Object.entries(spec.headers)) args.push('-H', `${k}=${v}`);
      args.push(spec.url);
      const cmd = wrapCommand(process.execPath, args, spec.cpus);
      const out = await collect(
        cmd.file,
        cmd.args,
        process.env,
        (spec.duration + 30) * 1000,
        onSpawn,
      );
      return autocannonMeasurement(JSON.parse(out.slice(out.indexOf('{'))) as AutocannonReport);
    },
  };
}

function execText(file: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, (err, stdout, stderr) =>
      resolve(err && !stdout && !stderr ? null : `${stdout}${stderr}`),
    );
  });
}

/** Picks the load generator: wrk when installed (unless told otherwise), else autocannon. */
export async function chooseLoadGenerator(
  wanted: 'auto' | 'wrk' | 'autocannon',
): Promise<LoadGenerator> {
  if (wanted !== 'autocannon') {
    const out = await execText('wrk', ['--version']);
    const m = out?.match(/wrk\s+(\S+)/);
    if (m) return wrk(m[1]!);
    if (wanted === 'wrk') throw new Error('wrk is not installed (apt-get install wrk)');
  }
  const pkg = createRequire(import.meta.url)('autocannon/package.json') as { version: string };
  return autocannon(pkg.version);
}

/**
 * One measured run against a loopback URL for the small standalone benchmarks
 * (bench/data-path.ts, bench/pg-drivers.ts); throws if any response failed or was not 2xx.
 */
export async function loadOnce(
  generator: LoadGenerator,
  url: string,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  const r = await generator.run({
    url,
    connections,
    duration: seconds,
    pipeline: 1,
    headers: {},
    cpus: null,
  });
  if (r.errors > 0 || r.non2xx > 0) {
    throw new Error(`${url}: ${r.errors} failed and ${r.non2xx} non-2xx responses`);
  }
  return r;
}

/** A latency for a table: milliseconds with two decimals, or `?` when unknown. */
export function formatMs(ms: number | null): string {
  return ms === null ? '?' : `${ms.toFixed(2)} ms`;
}
