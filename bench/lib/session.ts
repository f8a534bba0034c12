import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { groupPids, machineBusyTicks, processUsage, splitCpu, sumUsage } from './cpu-usage.ts';
import type { LoadGenerator, LoadResult, LoadSpec } from './load.ts';
import type { CpuPlan } from './machine.ts';
import { freePort, launch, probe, type ServerProcess, waitReady } from './process.ts';
import { NODE_FLAGS, ROOT, type ServerVariant } from './servers.ts';
import type { RunMeasurement } from './stats.ts';

/** Where server logs go during a run. */
export const LOG_DIR = join(ROOT, 'bench', 'results', 'logs');

/**
 * Node's compile cache for every server of a run (`NODE_COMPILE_CACHE`, unless set): the servers
 * run TypeScript, and without the cache each process loads Node's type stripper (amaro, a
 * WebAssembly build of swc) and strips every file it imports; the stripper's memory grows with
 * the code stripped and stays — ~30 MiB of RSS in the Peregrine server (which strips all of
 * `src/`), less in a peer that strips a few files. A service runs compiled JavaScript, and
 * `peregrine serve` keeps a compile cache, so neither pays it in production. `warmCompileCache`
 * fills it before anything is measured. V8 rejects code cached under other flags and Node then
 * strips the file again, so each set of Node flags has a cache of its own.
 */
export const COMPILE_CACHE_DIR =
  process.env.NODE_COMPILE_CACHE || join(ROOT, 'bench', 'results', '.compile-cache');

/** What every server of a run shares. */
export interface SessionContext {
  load: LoadGenerator;
  cpus: CpuPlan;
  /** Database for the servers (empty: none). */
  databaseUrl: string;
  /** Node-wide database connections. */
  pool: number;
}

/** A started server, ready for requests. */
export interface StartedServer {
  readonly baseUrl: string;
  readonly process: ServerProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** The last lines of a log file, to explain a failure. */
export function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts a variant on fresh ports, pinned to the server cores, and waits until it answers. */
export async function startServer(
  variant: ServerVariant,
  ctx: Pick<SessionContext, 'cpus' | 'databaseUrl' | 'pool'>,
  readyPath = '/plaintext',
  nodeFlags: readonly string[] = [],
): Promise<StartedServer> {
  mkdirSync(LOG_DIR, { recursive: true });
  const port = await freePort();
  const adminPort = await freePort();
  const { args, env } = variant.launch({ port, adminPort });
  const flags = [...(variant.nodeFlags ?? []), ...nodeFlags];
  const logFile = join(LOG_DIR, `${variant.name}.log`);
  const proc = launch({
    command: process.execPath,
    args: [...NODE_FLAGS, ...flags, ...args],
    env: {
      ...process.env,
      ...env,
      NODE_COMPILE_CACHE: compileCacheFor(flags),
      NODE_ENV: 'production',
      BENCH_HOST: '127.0.0.1',
      BENCH_PORT: String(port),
      BENCH_DATABASE_URL: ctx.databaseUrl,
      BENCH_POOL: String(ctx.pool),
    },
    cwd: ROOT,
    cpus: ctx.cpus.server,
    logFile,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitReady(proc, `${baseUrl}${readyPath}`);
  } catch (err) {
    await proc.stop();
    const tail = logTail(logFile);
    throw new Error(`${variant.name}: ${(err as Error).message}${tail ? `\n${tail}` : ''}`);
  }
  return { baseUrl, process: proc, logFile, stop: () => proc.stop() };
}

/**
 * Starts each server once, asks it every path the run will measure (so modules loaded on first
 * use are compiled too) and stops it: the compile cache then holds every file, and no measured
 * process loads the type stripper.
 */
export async function warmCompileCache(
  variants: readonly ServerVariant[],
  ctx: Pick<SessionContext, 'cpus' | 'databaseUrl' | 'pool'>,
  paths: readonly string[],
  nodeFlags: (variant: ServerVariant) => readonly string[] = () => [],
): Promise<void> {
  for (const variant of variants) {
    const server = await startServer(variant, ctx, '/plaintext', nodeFlags(variant));
    try {
      for (const path of paths) await probe(`${server.baseUrl}${path}`, 10_000).catch(() => 0);
    } finally {
      await server.stop();
    }
  }
}

/** The compile cache of servers started with these Node flags. */
function compileCacheFor(flags: readonly string[]): string {
  if (flags.length === 0) return COMPILE_CACHE_DIR;
  return join(
    COMPILE_CACHE_DIR,
    createHash('sha256').update(flags.join(' ')).digest('hex').slice(0, 12),
  );
}

/** Load for a test, minus duration. */
export type LoadShape = Omit<LoadSpec, 'duration' | 'url' | 'cpus'> & { path: string };

/**
 * Runs one measured load while sampling the server's memory (peak RSS) and splitting the
 * machine's CPU time between the server, the load generator and everything else.
 */
export async function measure(
  server: StartedServer,
  ctx: SessionContext,
  spec: LoadSpec,
): Promise<RunMeasurement> {
  const pids = await groupPids(server.process.pid);
  const t0 = performance.now();
  const machine0 = await machineBusyTicks();
  const server0 = await sumUsage(pids);
  let peakKiB = server0.rssKiB;
  let loadPid: number | undefined;
  let loadTicks = 0;
  let busy = false;
  const poll = async () => {
    const u = await sumUsage(pids);
    peakKiB = Math.max(peakKiB, u.rssKiB);
    if (loadPid !== undefined) {
      const l = await processUsage(loadPid);
      // The generator starts inside the window, so its whole CPU time belongs to it.
      if (l !== null) loadTicks = l.ticks;
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void poll().finally(() => {
      busy = false;
    });
  }, 100);
  let result: LoadResult;
  try {
    result = await ctx.load.run(spec, (pid) => {
      loadPid = pid;
    });
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const machine1 = await machineBusyTicks();
  const server1 = await sumUsage(pids);
  peakKiB = Math.max(peakKiB, server1.rssKiB);
  if (!server.process.alive) throw new Error('the server died under load');
  return {
    ...result,
    rssMiB: Math.round((peakKiB / 1024) * 10) / 10,
    cpu: splitCpu(seconds, machine1 - machine0, server1.ticks - server0.ticks, loadTicks),
  };
}

/** Warms a started server up, then measures one run. */
export async function warmAndMeasure(
  server: StartedServer,
  ctx: SessionContext,
  shape: LoadShape,
  warmup: number,
  duration: number,
): Promise<RunMeasurement> {
  const spec: LoadSpec = {
    url: `${server.baseUrl}${shape.path}`,
    connections: shape.connections,
    pipeline: shape.pipeline,
    headers: shape.headers,
    cpus: ctx.cpus.load,
    duration: warmup,
    ...(shape.timeout !== undefined ? { timeout: shape.timeout } : {}),
  };
  if (warmup > 0) await ctx.load.run(spec);
  return measure(server, ctx, { ...spec, duration });
}
