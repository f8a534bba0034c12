import type { BenchOptions } from './args.ts';
import { TESTS, type TestName } from './catalogue.ts';
import type { ServerVariant } from './servers.ts';
import type { SessionContext } from './session.ts';
import { startServer, warmAndMeasure } from './session.ts';
import {
  addRatios,
  evaluateTargets,
  type ResultRecord,
  type RunMeasurement,
  summarize,
  type TargetCheck,
} from './stats.ts';
import { type Truth, verifyTest } from './verify.ts';

/** Prints progress (stderr, so stdout holds only the table). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The order servers run in for a repeat: rotated, so no server always goes first. */
export function rotation<T>(items: readonly T[], repeat: number): T[] {
  if (items.length === 0) return [];
  const k = repeat % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Seconds a run will take, roughly (to print before starting). */
export function estimateSeconds(opts: BenchOptions, servers: number, tests: number): number {
  const perRun = opts.warmup + opts.duration + 1.5;
  return Math.round(tests * opts.connections.length * opts.repeats * servers * perRun);
}

interface Cell {
  variant: ServerVariant;
  test: TestName;
  concurrency: number;
  runs: RunMeasurement[];
  failure: string | undefined;
  verified: boolean;
}

/**
 * Runs every test at every connection count: per repeat, each server in turn (rotated) is
 * started fresh, checked against the rules (first time only), warmed up, measured, stopped.
 */
export async function runTechEmpower(
  opts: BenchOptions,
  servers: readonly ServerVariant[],
  ctx: SessionContext,
  truth: Truth | undefined,
  dbProblem: string | undefined,
): Promise<{ records: ResultRecord[]; targets: TargetCheck[] }> {
  const cells: Cell[] = [];
  for (const test of opts.tests) {
    const spec = TESTS[test];
    for (const concurrency of opts.connections) {
      const row: Cell[] = servers.map((variant) => ({
        variant,
        test,
        concurrency,
        runs: [],
        failure:
          spec.needsDatabase && dbProblem !== undefined
            ? dbProblem
            : variant.tests !== 'all' && !variant.tests.includes(test)
              ? 'not implemented by this server'
              : undefined,
        verified: false,
      }));
      cells.push(...row);
      for (let repeat = 0; repeat < opts.repeats; repeat++) {
        for (const cell of rotation(row, repeat)) {
          if (cell.failure !== undefined) continue;
          const label = `[${test} c=${concurrency} run ${repeat + 1}/${opts.repeats}] ${cell.variant.name}`;
          let server: Awaited<ReturnType<typeof startServer>> | undefined;
          try {
            server = await startServer(cell.variant, ctx);
            if (!cell.verified) {
              const problems = await verifyTest(server.baseUrl, test, truth);
              if (problems.length > 0) {
                cell.failure = `rule check failed: ${problems.slice(0, 5).join('; ')}`;
                progress(`${label}: ${cell.failure}`);
                continue;
              }
              cell.verified = true;
            }
            const run = await warmAndMeasure(
              server,
              ctx,
              {
                path: spec.path(opts.queries),
                connections: concurrency,
                pipeline: spec.pipeline,
                headers: { accept: spec.accept },
              },
              opts.warmup,
              opts.duration,
            );
            cell.runs.push(run);
            progress(
              `${label}: ${Math.round(run.rps).toLocaleString('en-US')} req/s, p99 ${run.p99Ms?.toFixed(2) ?? '?'} ms` +
                (run.cpu
                  ? `, cpu: server ${run.cpu.server} load ${run.cpu.load} other ${run.cpu.other}`
                  : '') +
                (run.errors + run.non2xx > 0
                  ? `, ${run.errors} errors, ${run.non2xx} non-2xx`
                  : ''),
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
  }
  const records: ResultRecord[] = cells.map((c) => {
    const spec = TESTS[c.test];
    const ok = c.failure === undefined && c.runs.length > 0;
    return {
      server: c.variant.name,
      label: c.variant.label,
      test: c.test,
      concurrency: c.concurrency,
      pipeline: spec.pipeline,
      queries: spec.usesQueries ? opts.queries : null,
      status: ok ? 'ok' : c.failure === dbProblem && dbProblem !== undefined ? 'skipped' : 'failed',
      ...(ok ? {} : { reason: c.failure ?? 'no run completed' }),
      ...summarize(ok ? c.runs : []),
      ratioToNode: null,
      cpuRatioToNode: null,
      rssRatioToNode: null,
      runs: c.runs,
    };
  });
  addRatios(records);
  return { records, targets: evaluateTargets(records) };
}
