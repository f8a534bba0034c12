import { countAtMost, quantile } from './quantile.ts';
import { type Ring, type RingSizes, Rings } from './ring.ts';

/** Totals of a latency series over a window. */
export interface LatencyTotals {
  /** Requests (or calls) in the window. */
  count: number;
  /** Of which answered 5xx (or, for a dependency, failed). */
  e5xx: number;
  /** Of which answered 4xx. */
  e4xx: number;
  /** Seconds spent in them, added up. */
  sum: number;
  /** Bucket counts summed over the window (last: +Inf). */
  counts: Float64Array;
  /** Apdex shares: requests satisfied, tolerating (5xx never count as either). */
  satisfied: number;
  tolerating: number;
  /** Extra counters (the overview's shed requests). */
  extra: number[];
  /** Largest value of each extra gauge (the overview's in-flight). */
  extraMax: number[];
}

/** A chart's points; null is a gap (no data came for that step, or no request to measure). */
export interface LatencyPoints {
  /** Start of each step, ms since the epoch. */
  t: number[];
  stepMs: number;
  /** Requests per second in each step. */
  rate: Array<number | null>;
  /** 5xx and 4xx per second. */
  e5xx: Array<number | null>;
  e4xx: Array<number | null>;
  p50: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
  mean: Array<number | null>;
  extra: Array<Array<number | null>>;
  extraMax: Array<Array<number | null>>;
}

/**
 * Rate, errors and latency of one endpoint (or dependency, or the whole service) as bucket counts
 * per second and per minute: slot layout `u = [buckets…, +Inf, 5xx, 4xx, extra…]`,
 * `f = [sum, satisfied, tolerating, extraMax…]`. Apdex shares are counted as deltas arrive, from
 * each (route, status) histogram, so a 5xx is frustrated whatever its time. Windows and points sum the buckets first, then take quantiles.
 */
export class LatencySeries {
  readonly bounds: readonly number[];
  readonly rings: Rings;
  readonly #nb: number;
  readonly #extra: number;
  readonly #extraMax: number;
  readonly #apdexT: number;
  readonly #dense: Float64Array;

  constructor(
    bounds: readonly number[],
    extra = 0,
    extraMax = 0,
    sizes: RingSizes = {},
    apdexT = 0.5,
  ) {
    this.bounds = bounds;
    this.#nb = bounds.length + 1;
    this.#extra = extra;
    this.#extraMax = extraMax;
    this.#apdexT = apdexT;
    this.#dense = new Float64Array(this.#nb);
    this.rings = new Rings(this.#nb + 2 + extra, 3 + extraMax, sizes);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.rings.bytes;
  }

  /**
   * Adds a histogram delta: `buckets` as [index, count, index, count…]; `failed`: it was a 5xx
   * (or a failed call), `client`: a 4xx.
   */
  observe(t: number, buckets: readonly number[], count: number, sum: number, cls: 0 | 4 | 5): void {
    const nb = this.#nb;
    let satisfied = 0;
    let tolerating = 0;
    if (cls !== 5) {
      const dense = this.#dense;
      dense.fill(0);
      for (let i = 0; i + 1 < buckets.length; i += 2) {
        const idx = buckets[i]!;
        if (idx >= 0 && idx < nb) dense[idx]! += buckets[i + 1]!;
      }
      satisfied = countAtMost(this.#apdexT, this.bounds, dense);
      tolerating = countAtMost(4 * this.#apdexT, this.bounds, dense) - satisfied;
    }
    for (const r of [this.rings.seconds, this.rings.minutes]) {
      const s = r.slotFor(r.step(t));
      if (s < 0) continue;
      const o = s * r.uWidth;
      for (let i = 0; i + 1 < buckets.length; i += 2) {
        const idx = buckets[i]!;
        if (idx >= 0 && idx < nb) r.u[o + idx]! += buckets[i + 1]!;
      }
      if (cls === 5) r.u[o + nb]! += count;
      else if (cls === 4) r.u[o + nb + 1]! += count;
      const fo = s * r.fWidth;
      r.f[fo]! += sum;
      r.f[fo + 1]! += satisfied;
      r.f[fo + 2]! += tolerating;
    }
  }

  /** Adds to extra counter `i`. */
  addExtra(t: number, i: number, v: number): void {
    this.rings.addU(t, this.#nb + 2 + i, v);
  }

  /** Raises extra gauge `i` to `v` if larger. */
  maxExtra(t: number, i: number, v: number): void {
    this.rings.maxF(t, 3 + i, v);
  }

  /** Marks `t` as covered. */
  touch(t: number): void {
    this.rings.touch(t);
  }

  /** Totals over the window that ends at `now`. */
  window(now: number, windowMs: number): LatencyTotals {
    const r = this.rings.ringFor(windowMs);
    const out = this.#empty();
    const last = r.step(now);
    const n = Math.min(r.slots, Math.ceil(windowMs / r.stepMs));
    for (let step = last - n + 1; step <= last; step++) {
      const s = r.slotOf(step);
      if (s >= 0) this.#addSlot(r, s, out);
    }
    return out;
  }

  /** One point per step over the window that ends at `now`; `apdexT` adds nothing here. */
  points(now: number, windowMs: number): LatencyPoints {
    const r = this.rings.ringFor(windowMs);
    const last = r.step(now);
    const n = Math.min(r.slots, Math.ceil(windowMs / r.stepMs));
    const perSecond = r.stepMs / 1000;
    const p: LatencyPoints = {
      t: [],
      stepMs: r.stepMs,
      rate: [],
      e5xx: [],
      e4xx: [],
      p50: [],
      p95: [],
      p99: [],
      mean: [],
      extra: Array.from({ length: this.#extra }, () => []),
      extraMax: Array.from({ length: this.#extraMax }, () => []),
    };
    const one = this.#empty();
    for (let step = last - n + 1; step <= last; step++) {
      p.t.push(step * r.stepMs);
      const s = r.slotOf(step);
      if (s < 0) {
        for (const a of [p.rate, p.e5xx, p.e4xx, p.p50, p.p95, p.p99, p.mean]) a.push(null);
        for (const a of p.extra) a.push(null);
        for (const a of p.extraMax) a.push(null);
        continue;
      }
      one.counts.fill(0);
      one.count = one.e5xx = one.e4xx = one.sum = one.satisfied = one.tolerating = 0;
      one.extra.fill(0);
      one.extraMax.fill(0);
      this.#addSlot(r, s, one);
      p.rate.push(one.count / perSecond);
      p.e5xx.push(one.e5xx / perSecond);
      p.e4xx.push(one.e4xx / perSecond);
      p.p50.push(quantile(0.5, this.bounds, one.counts));
      p.p95.push(quantile(0.95, this.bounds, one.counts));
      p.p99.push(quantile(0.99, this.bounds, one.counts));
      p.mean.push(one.count > 0 ? one.sum / one.count : null);
      for (let i = 0; i < one.extra.length; i++) p.extra[i]!.push(one.extra[i]! / perSecond);
      for (let i = 0; i < one.extraMax.length; i++) p.extraMax[i]!.push(one.extraMax[i]!);
    }
    return p;
  }

  /** Quantile, Apdex and means of totals. */
  summarize(w: LatencyTotals, windowMs: number): LatencySummary {
    const seconds = windowMs / 1000;
    return {
      count: w.count,
      rate: w.count / seconds,
      errors5xx: w.e5xx,
      errors4xx: w.e4xx,
      errorRate5xx: w.count > 0 ? w.e5xx / w.count : null,
      errorRate4xx: w.count > 0 ? w.e4xx / w.count : null,
      p50: quantile(0.5, this.bounds, w.counts),
      p95: quantile(0.95, this.bounds, w.counts),
      p99: quantile(0.99, this.bounds, w.counts),
      mean: w.count > 0 ? w.sum / w.count : null,
      timeSpent: w.sum,
      apdex: w.count > 0 ? (w.satisfied + w.tolerating / 2) / w.count : null,
    };
  }

  #empty(): LatencyTotals {
    return {
      count: 0,
      e5xx: 0,
      e4xx: 0,
      sum: 0,
      satisfied: 0,
      tolerating: 0,
      counts: new Float64Array(this.#nb),
      extra: new Array(this.#extra).fill(0),
      extraMax: new Array(this.#extraMax).fill(0),
    };
  }

  #addSlot(r: Ring, s: number, out: LatencyTotals): void {
    const o = s * r.uWidth;
    const nb = this.#nb;
    for (let i = 0; i < nb; i++) {
      const c = r.u[o + i]!;
      out.counts[i]! += c;
      out.count += c;
    }
    out.e5xx += r.u[o + nb]!;
    out.e4xx += r.u[o + nb + 1]!;
    const fo = s * r.fWidth;
    out.sum += r.f[fo]!;
    out.satisfied += r.f[fo + 1]!;
    out.tolerating += r.f[fo + 2]!;
    for (let i = 0; i < this.#extra; i++) out.extra[i]! += r.u[o + nb + 2 + i]!;
    for (let i = 0; i < this.#extraMax; i++) {
      const v = r.f[fo + 3 + i]!;
      if (v > out.extraMax[i]!) out.extraMax[i] = v;
    }
  }
}

/** What the API shows for a window. */
export interface LatencySummary {
  count: number;
  rate: number;
  errors5xx: number;
  errors4xx: number;
  errorRate5xx: number | null;
  errorRate4xx: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
  /** Seconds spent, added up (impact = rate × mean latency = this over the window). */
  timeSpent: number;
  apdex: number | null;
}
