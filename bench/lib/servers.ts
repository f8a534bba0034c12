import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { youngGenerationFlags } from '../../src/server/master/spawn-options.ts';
import { DEFAULT_YOUNG_GENERATION_MIB } from '../../src/server/settings/processes.ts';
import type { TestName } from './catalogue.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Node flags every server gets: package self-imports resolve to src/ (TypeScript, no build). */
export const NODE_FLAGS = ['--conditions=peregrine-source'];

/** What a server variant is started with. */
export interface LaunchContext {
  port: number;
  /** A second free port, for servers that also open an admin listener. */
  adminPort: number;
}

/** One server the suite can measure. */
export interface ServerVariant {
  /** Id used by `--servers` and in the results. */
  readonly name: string;
  /** Human name for the table and docs. */
  readonly label: string;
  /** Processes that serve requests (the primary of a cluster not counted). */
  readonly workers: number;
  /** Included in `--quick` runs (single-process servers only, to stay under 2 minutes). */
  readonly quick: boolean;
  /** Tests it implements. */
  readonly tests: readonly TestName[] | 'all';
  /** Whether it can run here: true, or why not. */
  available(): Promise<true | string>;
  /** Node flags of its own, after the common ones (before a run's extra flags, which win). */
  readonly nodeFlags?: readonly string[];
  /** Node arguments (after the common flags) and extra environment. */
  launch(ctx: LaunchContext): { args: string[]; env: Record<string, string> };
}

const always = async (): Promise<true> => true;

function script(name: string): string {
  return fileURLToPath(new URL(`../servers/${name}`, import.meta.url));
}

/**
 * The V8 flags `peregrine serve` gives its workers by default (`--young-generation`): the
 * single-process Peregrine variants run the App the way a worker runs it, so they get them too.
 */
const WORKER_V8_FLAGS = youngGenerationFlags(DEFAULT_YOUNG_GENERATION_MIB, [], '');

function single(
  name: string,
  label: string,
  file: string,
  env: Record<string, string> = {},
  quick = true,
  nodeFlags: readonly string[] = [],
): ServerVariant {
  return {
    name,
    label,
    workers: 1,
    quick,
    tests: 'all',
    nodeFlags,
    available: always,
    launch: () => ({ args: [script(file)], env }),
  };
}

function nodeCluster(workers: number): ServerVariant {
  return {
    name: `node-cluster-${workers}`,
    label: `raw node:cluster, ${workers} worker${workers === 1 ? '' : 's'} (round-robin)`,
    workers,
    quick: false,
    tests: 'all',
    available: always,
    launch: () => ({ args: [script('node-cluster.ts')], env: { BENCH_WORKERS: String(workers) } }),
  };
}

/** What `peregrine serve --help` says about the pre-fork server, once it exists. */
export interface PreforkSupport {
  /** `peregrine serve` runs. */
  serve: boolean;
  /** It takes `--reuse-port`. */
  reusePort: boolean;
  /** Why not, when it does not. */
  reason?: string;
}

let prefork: Promise<PreforkSupport> | undefined;

/**
 * Asks this checkout's `peregrine serve --help`. Until the pre-fork server lands the command is
 * unknown (exit 2) and its variants are left out of the run; afterwards they join it unchanged.
 */
export function preforkSupport(): Promise<PreforkSupport> {
  prefork ??= new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        ...NODE_FLAGS,
        fileURLToPath(new URL('../../bin/peregrine.js', import.meta.url)),
        'serve',
        '--help',
      ],
      { cwd: ROOT, timeout: 20_000 },
      (err, stdout, stderr) => {
        const text = `${stdout}${stderr}`;
        if (err) {
          resolve({
            serve: false,
            reusePort: false,
            reason: `\`peregrine serve --help\` failed (${text.split('\n')[0]?.trim() || err.message}): the pre-fork server has not landed`,
          });
        } else {
          resolve({
            serve: /--workers/.test(text),
            reusePort: /--(\[no-\])?reuse-port/.test(text),
          });
        }
      },
    );
  });
  return prefork;
}

/**
 * `peregrine serve bench/servers/peregrine/app.ts --workers N`: the same App as the
 * single-process variant under the pre-fork server (round-robin by the master, or SO_REUSEPORT).
 */
function peregrineServe(workers: number, reusePort: boolean): ServerVariant {
  return {
    name: `peregrine-serve-${workers}${reusePort ? '-reuseport' : ''}`,
    label: `peregrine serve --workers ${workers}${reusePort ? ' --reuse-port' : ' (round-robin)'}`,
    workers,
    quick: false,
    tests: 'all',
    async available() {
      const s = await preforkSupport();
      if (!s.serve) return s.reason ?? '`peregrine serve` has no --workers option';
      if (reusePort && !s.reusePort) return '`peregrine serve` has no --reuse-port option';
      return true;
    },
    launch: (ctx) => ({
      args: [
        fileURLToPath(new URL('../../bin/peregrine.js', import.meta.url)),
        'serve',
        fileURLToPath(new URL('../servers/peregrine/app.ts', import.meta.url)),
        '--bind',
        `127.0.0.1:${ctx.port}`,
        '--workers',
        String(workers),
        '--admin',
        `127.0.0.1:${ctx.adminPort}`,
        ...(reusePort ? ['--reuse-port'] : []),
      ],
      env: {},
    }),
  };
}

/** The I/O-bound servers of the scaling test (one worker each). */
export const SCALING_SERVERS: readonly string[] = ['peregrine', 'node', 'peregrine-serve-1'];

/** Every server variant, in table order. Raw node:http is the baseline of every ratio. */
export const SERVERS: readonly ServerVariant[] = [
  // As shipped: built-in telemetry on (RED metrics, runtime metrics, 1% trace sampling).
  single(
    'peregrine',
    'Peregrine, one process (serve()), default telemetry',
    'peregrine/main.ts',
    {},
    true,
    WORKER_V8_FLAGS,
  ),
  // The framework alone, for comparing with peers that have no telemetry.
  single(
    'peregrine-telemetry-off',
    'Peregrine, one process, PEREGRINE_TELEMETRY=off',
    'peregrine/main.ts',
    { PEREGRINE_TELEMETRY: 'off' },
    false,
    WORKER_V8_FLAGS,
  ),
  // The same App on node:http alone: what Peregrine's HTTP/1.1 engine gains.
  single(
    'peregrine-node-engine',
    'Peregrine, one process, --http-engine node (node:http for every connection)',
    'peregrine/main.ts',
    { PEREGRINE_HTTP_ENGINE: 'node' },
    false,
    WORKER_V8_FLAGS,
  ),
  // The same App with rateLimit() in front (default node store and RateLimit headers, a limit no
  // run reaches): what the guard costs per request.
  single(
    'peregrine-rate-limit',
    'Peregrine, one process, rateLimit() on every request (a limit never reached)',
    'peregrine/main.ts',
    { PEREGRINE_BENCH_RATE_LIMIT: '1' },
    false,
    WORKER_V8_FLAGS,
  ),
  single('node', 'raw node:http', 'node-http.ts'),
  single('fastify', 'Fastify 5', 'fastify.ts'),
  single('hono', 'Hono (@hono/node-server)', 'hono.ts'),
  single('express', 'Express 5', 'express.ts'),
  peregrineServe(1, false),
  nodeCluster(1),
  peregrineServe(2, false),
  peregrineServe(2, true),
  nodeCluster(2),
];

/** Finds a variant by name. */
export function serverByName(name: string): ServerVariant | undefined {
  return SERVERS.find((s) => s.name === name);
}
