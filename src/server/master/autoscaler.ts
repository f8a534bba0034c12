import type { Logger } from 'pino';
import { type CpuBudget, cpuBudget } from '../cores.ts';
import type { ServerSettings } from '../settings/all.ts';
import type { MasterEvents } from './events.ts';
import type { WorkerPool } from './pool.ts';
import type { Plan } from './reconcile.ts';
import {
  type ScaleBounds,
  type ScaleDecision,
  ScalePolicy,
  type ScaleSample,
} from './scale-policy.ts';
import type { WorkerRecord } from './worker-table.ts';

/** How often the master's own CPU use is measured, ms (shorter windows are mostly noise). */
const MASTER_CPU_WINDOW = 1000;

/** The bounds `--workers auto` works within, and what was lowered to fit the CPU budget. */
export function scaleBounds(
  settings: Pick<ServerSettings, 'minWorkers' | 'maxWorkers'>,
  budget: CpuBudget,
): { bounds: ScaleBounds; lowered: string[] } {
  const lowered: string[] = [];
  let max = settings.maxWorkers === 0 ? budget.cores : settings.maxWorkers;
  if (max > budget.cores) {
    lowered.push(`--max-workers ${max} lowered to the ${budget.cores} cores available`);
    max = budget.cores;
  }
  let min = settings.minWorkers;
  if (min > max) {
    lowered.push(`--min-workers ${min} lowered to ${max}`);
    min = max;
  }
  return { bounds: { min, max, cpuLimit: budget.limit }, lowered };
}

/**
 * The autoscaler of `--workers auto`, or undefined with a fixed worker count: the bounds fitted
 * to the CPU budget (a warning names what was lowered) and the policy built from the settings.
 */
export function autoscalerFor(
  settings: ServerSettings,
  log: Logger,
  events: MasterEvents,
  counted?: (action: ScaleDecision['action']) => void,
): Autoscaler | undefined {
  if (settings.workers !== 'auto') return undefined;
  const budget = cpuBudget();
  const { bounds, lowered } = scaleBounds(settings, budget);
  if (lowered.length > 0) log.warn({ lowered, cpu: budget }, lowered.join('; '));
  const policy = new ScalePolicy(bounds, {
    upUtilization: settings.scaleUpUtilization,
    downUtilization: settings.scaleDownUtilization,
    upAfterMs: settings.scaleUpAfter * 1000,
    downAfterMs: settings.scaleDownAfter * 1000,
    cooldownMs: settings.scaleCooldown * 1000,
  });
  log.info(
    { ...bounds, cpuSource: budget.source },
    `autoscale: ${bounds.min} to ${bounds.max} workers`,
  );
  return new Autoscaler(policy, log, events, counted);
}

/**
 * `--workers auto` in the master: on each pass of the loop it measures the workers (from their
 * heartbeats), asks the ScalePolicy, and moves the plan's target. The log line and the master
 * event of each decision carry the same reason and figures.
 */
export class Autoscaler {
  readonly policy: ScalePolicy;
  readonly #log: Logger;
  readonly #events: MasterEvents;
  readonly #counted: ((action: ScaleDecision['action']) => void) | undefined;
  #masterCpu = 0;
  #cpuMark = { usage: process.cpuUsage(), at: performance.now() };

  constructor(
    policy: ScalePolicy,
    log: Logger,
    events: MasterEvents,
    counted?: (action: ScaleDecision['action']) => void,
  ) {
    this.policy = policy;
    this.#log = log;
    this.#events = events;
    this.#counted = counted;
  }

  /** Judges the workers now and moves `plan.target` when the policy says so. */
  manage(plan: Plan, pool: WorkerPool, now: number): void {
    const decision = this.policy.decide(this.sample(plan, pool.all()), now);
    if (decision !== undefined) this.#apply(plan, decision, now);
  }

  /** What the policy judges: the current generation's serving workers and the CPU in use. */
  sample(plan: Plan, workers: readonly WorkerRecord[]): ScaleSample {
    let cpu = this.#ownCpu();
    const elu: number[] = [];
    let settling = plan.reload !== undefined || plan.stop !== undefined;
    let serving = 0;
    for (const w of workers) {
      if (w.state === 'exited') continue;
      cpu += w.heartbeat?.cpu ?? 0;
      if (w.state !== 'ready' || w.retire !== undefined || w.generation !== plan.generation) {
        settling = true;
        continue;
      }
      serving++;
      if (w.heartbeat !== undefined) elu.push(w.heartbeat.elu);
    }
    if (serving !== plan.target) settling = true;
    const utilization = elu.length === 0 ? undefined : elu.reduce((a, b) => a + b, 0) / elu.length;
    return { target: plan.target, settling, utilization, cpu };
  }

  #apply(plan: Plan, d: ScaleDecision, now: number): void {
    this.#counted?.(d.action);
    const figures = { utilization: round(d.utilization), cpu: round(d.cpu), reason: d.reason };
    if (d.action === 'hold') {
      const fields = { event: 'scale-hold', target: d.target, ...figures };
      this.#log.info(fields, `autoscale: staying at ${d.target} workers (${d.reason})`);
      this.#events.record('scale-hold', `staying at ${d.target} workers`, fields, now);
      return;
    }
    plan.target = d.to;
    const fields = { event: `scale-${d.action}`, from: d.from, to: d.to, ...figures };
    const message = `autoscale: ${d.from} → ${d.to} workers (${d.reason})`;
    this.#log.info(fields, message);
    this.#events.record(
      `scale-${d.action}`,
      `${d.action === 'up' ? 'added' : 'retired'} ${Math.abs(d.to - d.from)} worker${Math.abs(d.to - d.from) === 1 ? '' : 's'}: ${d.from} → ${d.to}`,
      fields,
      now,
    );
  }

  /** The master's own CPU use, in cores, over the last whole window. */
  #ownCpu(): number {
    const at = performance.now();
    const elapsed = at - this.#cpuMark.at;
    if (elapsed >= MASTER_CPU_WINDOW) {
      const used = process.cpuUsage(this.#cpuMark.usage);
      this.#masterCpu = (used.user + used.system) / (elapsed * 1000);
      this.#cpuMark = { usage: process.cpuUsage(), at };
    }
    return this.#masterCpu;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
