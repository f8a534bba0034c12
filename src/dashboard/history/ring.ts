/**
 * A fixed ring of time slots, each a row of counters (Uint32) and of sums/gauges (Float64). A
 * slot belongs to one step of time (`floor(t / stepMs)`); a slot whose step is not the one asked
 * for holds no data, so a second nothing arrived in stays a gap instead of turning into a zero.
 * Memory is allocated once: `slots × (4·uWidth + 8·fWidth + 8)` bytes.
 */
export class Ring {
  readonly slots: number;
  readonly stepMs: number;
  readonly uWidth: number;
  readonly fWidth: number;
  readonly #steps: Float64Array;
  readonly u: Uint32Array;
  readonly f: Float64Array;

  constructor(slots: number, stepMs: number, uWidth: number, fWidth: number) {
    this.slots = slots;
    this.stepMs = stepMs;
    this.uWidth = uWidth;
    this.fWidth = fWidth;
    this.#steps = new Float64Array(slots).fill(-1);
    this.u = new Uint32Array(slots * uWidth);
    this.f = new Float64Array(slots * fWidth);
  }

  /** Bytes this ring holds. */
  get bytes(): number {
    return this.#steps.byteLength + this.u.byteLength + this.f.byteLength;
  }

  /** The slot of `step`, cleared if it held an older step; -1 if `step` is older than the ring. */
  slotFor(step: number): number {
    const i = step % this.slots;
    const held = this.#steps[i]!;
    if (held === step) return i;
    if (held > step) return -1;
    this.#steps[i] = step;
    this.u.fill(0, i * this.uWidth, (i + 1) * this.uWidth);
    this.f.fill(0, i * this.fWidth, (i + 1) * this.fWidth);
    return i;
  }

  /** The slot holding `step`, or -1 (a gap). */
  slotOf(step: number): number {
    const i = step % this.slots;
    return this.#steps[i] === step ? i : -1;
  }

  /** The step a time falls in. */
  step(timeMs: number): number {
    return Math.floor(timeMs / this.stepMs);
  }
}

/** Two rings: 1-second points for 15 minutes and 1-minute points for 24 hours. */
export class Rings {
  readonly seconds: Ring;
  readonly minutes: Ring;

  constructor(uWidth: number, fWidth: number, options: RingSizes = {}) {
    this.seconds = new Ring(options.seconds ?? 900, 1000, uWidth, fWidth);
    this.minutes = new Ring(options.minutes ?? 1440, 60_000, uWidth, fWidth);
  }

  /** Bytes both rings hold. */
  get bytes(): number {
    return this.seconds.bytes + this.minutes.bytes;
  }

  /** Adds to counter `i` at time `t` in both rings. */
  addU(t: number, i: number, v: number): void {
    for (const r of [this.seconds, this.minutes]) {
      const s = r.slotFor(r.step(t));
      if (s >= 0) r.u[s * r.uWidth + i]! += v;
    }
  }

  /** Adds to sum `i` at time `t` in both rings. */
  addF(t: number, i: number, v: number): void {
    for (const r of [this.seconds, this.minutes]) {
      const s = r.slotFor(r.step(t));
      if (s >= 0) r.f[s * r.fWidth + i]! += v;
    }
  }

  /** Keeps the largest value of gauge `i` seen in each slot. */
  maxF(t: number, i: number, v: number): void {
    for (const r of [this.seconds, this.minutes]) {
      const s = r.slotFor(r.step(t));
      if (s < 0) continue;
      const k = s * r.fWidth + i;
      if (v > r.f[k]!) r.f[k] = v;
    }
  }

  /** Marks time `t` as covered (a slot with no counts yet is data, not a gap). */
  touch(t: number): void {
    for (const r of [this.seconds, this.minutes]) r.slotFor(r.step(t));
  }

  /** The ring that covers a window: seconds up to its length, minutes beyond. */
  ringFor(windowMs: number): Ring {
    return windowMs <= this.seconds.slots * 1000 ? this.seconds : this.minutes;
  }
}

/** Ring lengths (tests shorten them). */
export interface RingSizes {
  seconds?: number;
  minutes?: number;
}
