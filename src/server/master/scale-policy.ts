/** The fewest and most workers, and the CPU they may use. */
export interface ScaleBounds {
  /** The fewest workers. */
  min: number;
  /** The most workers (already no more than the cores available). */
  max: number;
  /** The CPU the process may use, in cores (a cgroup quota may make it fractional). */
  cpuLimit: number;
}

/** When to move, from the `--scale-*` settings. */
export interface ScaleTuning {
  /** Add workers while the mean event-loop utilization stays at or above this (0–1). */
  upUtilization: number;
  /** Retire one while it stays at or below this. */
  downUtilization: number;
  /** How long it must stay high, ms. */
  upAfterMs: number;
  /** How long it must stay low, ms. */
  downAfterMs: number;
  /** After a change settles, how long to wait before judging again, ms. */
  cooldownMs: number;
}

/** What the master sees at one tick. */
export interface ScaleSample {
  /** How many workers the master keeps now. */
  target: number;
  /** A change is under way: a worker booting, draining, or a reload or stop in progress. */
  settling: boolean;
  /** The serving workers' mean event-loop utilization over their last heartbeat (undefined: none yet). */
  utilization: number | undefined;
  /** CPU used by the master and its workers, in cores. */
  cpu: number;
}

/** A change of the worker count, or a reason not to make one the load asks for. */
export type ScaleDecision =
  | {
      action: 'up' | 'down';
      from: number;
      to: number;
      /** One line: why, with the figures. */
      reason: string;
      utilization: number;
      cpu: number;
    }
  | { action: 'hold'; target: number; reason: string; utilization: number; cpu: number };

/** Adding a worker needs at least this much of the CPU budget unused, in cores. */
export const CPU_HEADROOM = 0.5;

const fixed = (n: number, digits = 2) => n.toFixed(digits);

/**
 * Decides when `--workers auto` adds or retires workers. Pure: the master feeds it a sample and
 * the time on every tick and acts on what it returns. Hysteresis comes from two thresholds, from
 * windows the utilization must stay past (a dip or spike starts them over), from judging nothing
 * while a change settles plus a cool-down after it, and from refusing a retirement that would
 * push the remaining workers back over the upper threshold. Up moves in proportion to the load
 * (like the HPA's `ceil(n × utilization / target)`), down one worker at a time.
 */
export class ScalePolicy {
  readonly #bounds: ScaleBounds;
  readonly #tuning: ScaleTuning;
  #highSince: number | undefined;
  #lowSince: number | undefined;
  /** When the last change settled (judging resumes a cool-down after it). */
  #settledAt: number | undefined;
  /** The reason of the hold last reported, so one high spell reports it once. */
  #held: string | undefined;

  constructor(bounds: ScaleBounds, tuning: ScaleTuning) {
    this.#bounds = bounds;
    this.#tuning = tuning;
  }

  /** The bounds in force. */
  get bounds(): ScaleBounds {
    return { ...this.#bounds };
  }

  /** Starts the cool-down now (a change made by hand, `TTIN`/`TTOU`, counts as one). */
  changed(now: number): void {
    this.#restart();
    this.#settledAt = now;
  }

  /** Judges one sample; returns a decision when the count should change or a hold is news. */
  decide(sample: ScaleSample, now: number): ScaleDecision | undefined {
    if (sample.settling) {
      this.changed(now);
      return undefined;
    }
    if (this.#settledAt !== undefined && now - this.#settledAt < this.#tuning.cooldownMs) {
      this.#restart();
      return undefined;
    }
    const u = sample.utilization;
    if (u === undefined) return undefined;
    const t = this.#tuning;
    if (u >= t.upUtilization) {
      this.#lowSince = undefined;
      this.#highSince ??= now;
      if (now - this.#highSince < t.upAfterMs) return undefined;
      return this.#up(sample, u, now);
    }
    this.#highSince = undefined;
    this.#held = undefined;
    if (u > t.downUtilization) {
      this.#lowSince = undefined;
      return undefined;
    }
    this.#lowSince ??= now;
    if (now - this.#lowSince < t.downAfterMs || sample.target <= this.#bounds.min) return undefined;
    // Spread over one worker fewer, the same work must not bring back a scale-up.
    const after = (u * sample.target) / (sample.target - 1);
    if (after >= t.upUtilization) return undefined;
    const reason = `event-loop utilization ${fixed(u)} ≤ ${fixed(t.downUtilization)} for ${seconds(now - this.#lowSince)}; one worker fewer would run at about ${fixed(after)}`;
    this.changed(now);
    return {
      action: 'down',
      from: sample.target,
      to: sample.target - 1,
      reason,
      utilization: u,
      cpu: sample.cpu,
    };
  }

  #up(sample: ScaleSample, u: number, now: number): ScaleDecision | undefined {
    const { max, cpuLimit } = this.#bounds;
    const t = this.#tuning;
    const free = cpuLimit - sample.cpu;
    const figures = `event-loop utilization ${fixed(u)} ≥ ${fixed(t.upUtilization)} for ${seconds(now - this.#highSince!)}; CPU ${fixed(sample.cpu)} of ${fixed(cpuLimit)} cores used`;
    let hold: string | undefined;
    if (sample.target >= max) hold = `at the most workers (${max}): ${figures}`;
    else if (free < CPU_HEADROOM) hold = `no CPU to spare: ${figures}`;
    if (hold !== undefined) {
      if (this.#held !== undefined) return undefined;
      this.#held = hold;
      return {
        action: 'hold',
        target: sample.target,
        reason: hold,
        utilization: u,
        cpu: sample.cpu,
      };
    }
    const wanted = Math.ceil((sample.target * u) / t.upUtilization - 1e-9);
    const add = Math.max(1, Math.min(wanted - sample.target, Math.floor(free)));
    const to = Math.min(max, sample.target + add);
    this.changed(now);
    return {
      action: 'up',
      from: sample.target,
      to,
      reason: figures,
      utilization: u,
      cpu: sample.cpu,
    };
  }

  #restart(): void {
    this.#highSince = undefined;
    this.#lowSince = undefined;
    this.#held = undefined;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
