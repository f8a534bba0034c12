import type { BenchOptions } from './args.ts';
import type { ServerVariant } from './servers.ts';
import type { SessionContext } from './session.ts';
import { startServer, warmAndMeasure } from './session.ts';
import { markdownTable, median, type RunMeasurement, round, summarize } from './stats.ts';
import { progress, rotation } from './techempower.ts';

/** One server at one connection count in the scaling test. */
export interface ScalingRecord {
  server: string;
  label: string;
  /** Open keep-alive connections (0 for the capacity run). */
  connections: number;
  /** What the responder awaits, ms (0 for the capacity run). */
  delayMs: number;
  status: 'ok' | 'failed';
  reason?: string;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  non2xx: number;
  /** Peak RSS of the worker, MiB. */
  rssMiB: number | null;
  /** What this one worker serves of the same route without waiting, at 64 connections. */
  capacityRps: number | null;
  /** min(connections / delay, capacity): the best this load allows. */
  idealRps: number | null;
  /** rps / idealRps. */
  efficiency: number | null;
  runs: RunMeasurement[];
}

/** The issue's scaling targets at 10,000 connections. */
export const SCALING_TARGET = { connections: 10_000, rssMiB: 200, efficiency: 0.8 } as const;

/** The best throughput a load allows: every connection's request takes `delayMs`, CPU permitting. */
export function idealRps(connections: number, delayMs: number, capacity: number): number {
  return delayMs > 0 ? Math.min((connections * 1000) / delayMs, capacity) : capacity;
}

/** Checks of the scaling targets, as printed lines. */
export function scalingVerdicts(records: readonly ScalingRecord[]): string[] {
  return records
    .filter((r) => r.connections === SCALING_TARGET.connections)
    .map((r) => {
      if (r.status !== 'ok') return `${r.server} @10,000: NOT MEASURED (${r.reason})`;
      const rssOk = r.rssMiB !== null && r.rssMiB <= SCALING_TARGET.rssMiB;
      const effOk = r.efficiency !== null && r.efficiency >= SCALING_TARGET.efficiency;
      return (
        `${r.server} @10,000: RSS ${r.rssMiB?.toFixed(0)} MiB (target <= ${SCALING_TARGET.rssMiB}) ${rssOk ? 'met' : 'MISSED'}; ` +
        `throughput ${(100 * (r.efficiency ?? 0)).toFixed(0)}% of ideal (target >= ${SCALING_TARGET.efficiency * 100}%) ${effOk ? 'met' : 'MISSED'}`
      );
    });
}

/** The scaling table. */
export function formatScaling(records: readonly ScalingRecord[]): string {
  const f = (n: number | null, d = 0) =>
    n === null
      ? '—'
      : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  return markdownTable(
    [
      'server',
      'conns',
      'wait ms',
      'req/s',
      'ideal req/s',
      'of ideal',
      'p50 ms',
      'p99 ms',
      'errors',
      'RSS MiB',
    ],
    records.map((r) => [
      r.server,
      r.connections === 0 ? 'capacity (64)' : String(r.connections),
      String(r.delayMs),
      r.status === 'ok' ? f(r.rps) : 'FAILED',
      f(r.idealRps),
      r.efficiency === null ? '—' : `${(r.efficiency * 100).toFixed(0)}%`,
      f(r.p50Ms, 1),
      f(r.p99Ms, 1),
      String(r.errors + r.non2xx),
      f(r.rssMiB),
    ]),
  );
}

const ACCEPT = 'application/json';

/**
 * The scaling test: one worker whose responder awaits `delay` ms (an I/O-bound service) at each
 * connection count; first its CPU capacity on the same route without the wait.
 */
export async function runScaling(
  opts: BenchOptions,
  servers: readonly ServerVariant[],
  ctx: SessionContext,
): Promise<ScalingRecord[]> {
  const levels = [0, ...opts.scalingConnections];
  const cells = new Map<string, { runs: RunMeasurement[]; failure?: string }>();
  const key = (s: string, c: number) => `${s}@${c}`;
  for (const level of levels) {
    for (let repeat = 0; repeat < opts.repeats; repeat++) {
      for (const variant of rotation(servers, repeat)) {
        const k = key(variant.name, level);
        const cell = cells.get(k) ?? { runs: [] };
        cells.set(k, cell);
        if (cell.failure !== undefined) continue;
        const label = `[scaling ${level === 0 ? 'capacity' : `c=${level}`} run ${repeat + 1}/${opts.repeats}] ${variant.name}`;
        let server: Awaited<ReturnType<typeof startServer>> | undefined;
        try {
          server = await startServer(variant, ctx, '/io?ms=0');
          const run = await warmAndMeasure(
            server,
            ctx,
            {
              path: level === 0 ? '/io?ms=0' : `/io?ms=${opts.scalingDelay}`,
              connections: level === 0 ? 64 : level,
              pipeline: 1,
              headers: { accept: ACCEPT },
              timeout: 30,
            },
            opts.warmup,
            opts.duration,
          );
          cell.runs.push(run);
          progress(
            `${label}: ${Math.round(run.rps).toLocaleString('en-US')} req/s, p99 ${run.p99Ms?.toFixed(1) ?? '?'} ms, RSS ${run.rssMiB} MiB` +
              (run.cpu
                ? `, cpu: server ${run.cpu.server} load ${run.cpu.load} other ${run.cpu.other}`
                : '') +
              (run.errors + run.non2xx > 0 ? `, ${run.errors} errors` : ''),
          );
        } catch (err) {
          cell.failure = (err as Error).message;
          progress(`${label}: FAILED ${cell.failure}`);
        } finally {
          await server?.stop();
        }
      }
    }
  }
  const records: ScalingRecord[] = [];
  for (const variant of servers) {
    const capCell = cells.get(key(variant.name, 0));
    const capacity =
      capCell && capCell.runs.length > 0 ? median(capCell.runs.map((r) => r.rps)) : null;
    for (const level of levels) {
      const cell = cells.get(key(variant.name, level))!;
      const ok = cell.failure === undefined && cell.runs.length > 0;
      const s = summarize(ok ? cell.runs : []);
      const delay = level === 0 ? 0 : opts.scalingDelay;
      const ideal = capacity === null ? null : idealRps(level === 0 ? 64 : level, delay, capacity);
      records.push({
        server: variant.name,
        label: variant.label,
        connections: level,
        delayMs: delay,
        status: ok ? 'ok' : 'failed',
        ...(ok ? {} : { reason: cell.failure ?? 'no run completed' }),
        rps: s.rps,
        p50Ms: s.p50Ms,
        p99Ms: s.p99Ms,
        errors: s.errors,
        non2xx: s.non2xx,
        rssMiB: s.rssMiB,
        capacityRps: capacity,
        idealRps: ideal,
        efficiency: ideal && s.rps !== null ? round(s.rps / ideal, 3) : null,
        runs: cell.runs,
      });
    }
  }
  return records;
}
