import type {
  FamilyDelta,
  FamilyMeta,
  GaugeMerge,
  HistogramDelta,
  MetricKind,
  ScalarDelta,
  WireExemplar,
} from '../wire.ts';
import { bucketIndex, DURATION_BUCKETS, validateBuckets } from './buckets.ts';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Label value used for series beyond a family's cardinality limit. */
export const OVERFLOW_VALUE = '_overflow';

/** Declaration of a metric family. */
export interface MetricOptions<L extends string = string> {
  /** Prometheus-style name (`orders_placed`; counters are exposed with `_total`). */
  name: string;
  /** One line of help text. */
  help: string;
  /** Unit suffix (`seconds`, `bytes`); the name should end with it. */
  unit?: string;
  /** The label names every observation must give, declared up front. */
  labels?: readonly L[];
  /** Most series kept; further label combinations fold into one `_overflow` series (default 2000). */
  maxSeries?: number;
}

/** Declaration of a histogram. */
export interface HistogramOptions<L extends string = string> extends MetricOptions<L> {
  /** Bucket upper bounds (default: OpenTelemetry's advised duration bounds, in seconds). */
  buckets?: readonly number[];
}

/** Declaration of a gauge. */
export interface GaugeOptions<L extends string = string> extends MetricOptions<L> {
  /** `sum` adds the workers' values; `worker` keeps one series per worker (default `sum`). */
  merge?: GaugeMerge;
}

/** Label values by name. */
export type LabelValues<L extends string> = { readonly [K in L]: string | number };

function validateMeta(options: MetricOptions, kind: MetricKind): readonly string[] {
  if (!NAME_RE.test(options.name)) throw new TypeError(`invalid metric name "${options.name}"`);
  if (kind === 'counter' && options.name.endsWith('_total')) {
    throw new TypeError(`counter "${options.name}": declare it without _total (it is added)`);
  }
  const labels = options.labels ?? [];
  const seen = new Set<string>();
  for (const l of labels) {
    if (!LABEL_RE.test(l) || l.startsWith('__')) throw new TypeError(`invalid label name "${l}"`);
    if (kind === 'histogram' && l === 'le') throw new TypeError('"le" is reserved in histograms');
    if (seen.has(l)) throw new TypeError(`label "${l}" declared twice`);
    seen.add(l);
  }
  return Object.freeze([...labels]);
}

/** Base of the three families: series by label values, resolved once and reused. */
abstract class Family<L extends string, S> {
  /** What the master needs to expose this family. */
  readonly meta: FamilyMeta;
  readonly #series = new Map<string, S>();
  readonly #max: number;
  #overflow: S | undefined;

  constructor(meta: FamilyMeta, maxSeries: number | undefined) {
    this.meta = meta;
    this.#max = maxSeries ?? 2000;
  }

  protected abstract create(values: string[]): S;

  /** All series, for collection. */
  protected get series(): IterableIterator<S> {
    return this.#series.values();
  }

  /**
   * The series of these label values (by name, or positionally in declared order). Resolve it once
   * and keep it: observing through the returned handle allocates nothing.
   */
  labels(values: LabelValues<L> | ReadonlyArray<string | number>): S {
    const names = this.meta.labels;
    const list: string[] = new Array(names.length);
    if (Array.isArray(values)) {
      if (values.length !== names.length) {
        throw new TypeError(`${this.meta.name} takes ${names.length} label values`);
      }
      for (let i = 0; i < names.length; i++) list[i] = String(values[i]);
    } else {
      const byName = values as Record<string, string | number>;
      for (let i = 0; i < names.length; i++) {
        const v = byName[names[i]!];
        if (v === undefined) throw new TypeError(`${this.meta.name}: label ${names[i]} missing`);
        list[i] = String(v);
      }
    }
    const key = list.join('\u0000');
    let s = this.#series.get(key);
    if (s === undefined) {
      if (this.#series.size >= this.#max) {
        this.#overflow ??= this.create(names.map(() => OVERFLOW_VALUE));
        return this.#overflow;
      }
      s = this.create(list);
      this.#series.set(key, s);
    }
    return s;
  }

  /** @internal The changes since the last call, or undefined if nothing changed. */
  abstract collect(): FamilyDelta | undefined;

  protected all(): S[] {
    const out = [...this.#series.values()];
    if (this.#overflow !== undefined) out.push(this.#overflow);
    return out;
  }
}

/** One counter series. */
export class CounterSeries {
  /** Increase since the last collection. */
  delta = 0;
  /** Total in this process. */
  value = 0;
  /** The label values. */
  readonly labelValues: string[];
  constructor(labelValues: string[]) {
    this.labelValues = labelValues;
  }
  /** Adds a non-negative amount (default 1); negative or non-finite amounts are ignored. */
  inc(amount = 1): void {
    if (!(amount >= 0) || amount === Number.POSITIVE_INFINITY) return;
    this.delta += amount;
    this.value += amount;
  }
}

/** A monotonically increasing count (exposed as `<name>_total`). */
export class Counter<L extends string = string> extends Family<L, CounterSeries> {
  constructor(options: MetricOptions<L>) {
    const labels = validateMeta(options, 'counter');
    super(
      { name: options.name, kind: 'counter', help: options.help, unit: options.unit ?? '', labels },
      options.maxSeries,
    );
  }
  protected create(values: string[]): CounterSeries {
    return new CounterSeries(values);
  }
  /** Adds to the series of these labels (resolve with `labels()` once on hot paths instead). */
  inc(values: LabelValues<L> | ReadonlyArray<string | number> = [], amount = 1): void {
    this.labels(values).inc(amount);
  }
  collect(): FamilyDelta | undefined {
    const series: ScalarDelta[] = [];
    for (const s of this.all()) {
      if (s.delta === 0) continue;
      series.push([s.labelValues, s.delta]);
      s.delta = 0;
    }
    return series.length === 0 ? undefined : { meta: this.meta, series };
  }
}

/** One gauge series. */
export class GaugeSeries {
  /** The current value. */
  value = 0;
  /** Changed since the last collection. */
  dirty = false;
  /** The label values. */
  readonly labelValues: string[];
  constructor(labelValues: string[]) {
    this.labelValues = labelValues;
  }
  /** Sets the value. */
  set(value: number): void {
    this.value = value;
    this.dirty = true;
  }
  /** Adds (or with a negative amount, subtracts). */
  inc(amount = 1): void {
    this.value += amount;
    this.dirty = true;
  }
  /** Subtracts. */
  dec(amount = 1): void {
    this.value -= amount;
    this.dirty = true;
  }
}

/** A value that goes up and down. */
export class Gauge<L extends string = string> extends Family<L, GaugeSeries> {
  constructor(options: GaugeOptions<L>) {
    const labels = validateMeta(options, 'gauge');
    super(
      {
        name: options.name,
        kind: 'gauge',
        help: options.help,
        unit: options.unit ?? '',
        labels,
        merge: options.merge ?? 'sum',
      },
      options.maxSeries,
    );
  }
  protected create(values: string[]): GaugeSeries {
    return new GaugeSeries(values);
  }
  /** Sets the series of these labels. */
  set(values: LabelValues<L> | ReadonlyArray<string | number>, value: number): void {
    this.labels(values).set(value);
  }
  collect(): FamilyDelta | undefined {
    const series: ScalarDelta[] = [];
    for (const s of this.all()) {
      if (!s.dirty) continue;
      series.push([s.labelValues, s.value]);
      s.dirty = false;
    }
    return series.length === 0 ? undefined : { meta: this.meta, series };
  }
}

/** Where an exemplar's ids are read (a span context). */
export interface ExemplarIds {
  readonly traceId: string;
  readonly spanId: string;
}

/** One histogram series: fixed buckets, so merging workers is an exact sum. */
export class HistogramSeries {
  /** The label values. */
  readonly labelValues: string[];
  /** The bucket bounds. */
  readonly bounds: readonly number[];
  /** Per-bucket counts since the last collection (last slot is +Inf). */
  readonly counts: Float64Array;
  /** Observations since the last collection. */
  count = 0;
  /** Sum of the observations since the last collection. */
  sum = 0;
  /** The interval's exemplars by bucket index (sparse). */
  #exemplars: Array<WireExemplar | undefined> | undefined;
  /** Where a bucket's exemplar ids are read from when the interval is cut (sparse). */
  #exemplarIds: Array<ExemplarIds | undefined> | undefined;

  constructor(labelValues: string[], bounds: readonly number[]) {
    this.labelValues = labelValues;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value. */
  observe(value: number): void {
    if (Number.isNaN(value)) return; // NaN never enters a bucket
    this.counts[bucketIndex(this.bounds, value)]!++;
    this.count++;
    this.sum += value;
  }

  /**
   * Records one value and remembers the trace it belongs to as the bucket's exemplar (the latest
   * one per bucket and interval). `timeMs` is when it was observed (default now).
   */
  observeWithExemplar(value: number, traceId: string, spanId: string, timeMs?: number): void {
    this.#exemplar(value, traceId, spanId, undefined, timeMs ?? Date.now());
  }

  /**
   * @internal `observeWithExemplar` with the ids read from `ids` (a span context) only when the
   * interval is cut. PERF: a kept request's ids are formatted as hex once a second per bucket,
   * not per request.
   */
  observeWithTrace(value: number, ids: ExemplarIds, timeMs: number): void {
    this.#exemplar(value, '', '', ids, timeMs);
  }

  /**
   * PERF: one exemplar record per bucket per interval, overwritten in place, instead of a new
   * record (and a clock read) per kept request.
   */
  #exemplar(
    value: number,
    traceId: string,
    spanId: string,
    ids: ExemplarIds | undefined,
    time: number,
  ): void {
    if (Number.isNaN(value)) return;
    const i = bucketIndex(this.bounds, value);
    this.counts[i]!++;
    this.count++;
    this.sum += value;
    this.#exemplars ??= [];
    this.#exemplarIds ??= [];
    const ex = this.#exemplars[i];
    if (ex === undefined) this.#exemplars[i] = [i, value, traceId, spanId, time];
    else {
      ex[1] = value;
      ex[2] = traceId;
      ex[3] = spanId;
      ex[4] = time;
    }
    this.#exemplarIds[i] = ids;
  }

  /** @internal Cuts the delta and resets. */
  take(): HistogramDelta | undefined {
    if (this.count === 0) return undefined;
    const buckets: number[] = [];
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] !== 0) {
        buckets.push(i, counts[i]!);
        counts[i] = 0;
      }
    }
    const out: HistogramDelta = [this.labelValues, this.count, this.sum, buckets];
    if (this.#exemplars !== undefined) {
      // The records go with the delta (the hub may hold them): the next interval starts afresh.
      const list: WireExemplar[] = [];
      const ids = this.#exemplarIds ?? [];
      this.#exemplars.forEach((e, i) => {
        if (e === undefined) return;
        const from = ids[i];
        if (from !== undefined) {
          e[2] = from.traceId;
          e[3] = from.spanId;
        }
        list.push(e);
      });
      out.push(list);
      this.#exemplars = undefined;
      this.#exemplarIds = undefined;
    }
    this.count = 0;
    this.sum = 0;
    return out;
  }
}

/** A distribution over fixed buckets. */
export class Histogram<L extends string = string> extends Family<L, HistogramSeries> {
  readonly #bounds: readonly number[];
  constructor(options: HistogramOptions<L>) {
    const labels = validateMeta(options, 'histogram');
    const bounds = validateBuckets(options.buckets ?? DURATION_BUCKETS);
    super(
      {
        name: options.name,
        kind: 'histogram',
        help: options.help,
        unit: options.unit ?? '',
        labels,
        buckets: bounds,
      },
      options.maxSeries,
    );
    this.#bounds = bounds;
  }
  protected create(values: string[]): HistogramSeries {
    return new HistogramSeries(values, this.#bounds);
  }
  /** Records a value in the series of these labels. */
  observe(values: LabelValues<L> | ReadonlyArray<string | number>, value: number): void {
    this.labels(values).observe(value);
  }
  collect(): FamilyDelta | undefined {
    const series: HistogramDelta[] = [];
    for (const s of this.all()) {
      const d = s.take();
      if (d !== undefined) series.push(d);
    }
    return series.length === 0 ? undefined : { meta: this.meta, series };
  }
}

/** Any metric family. */
export type AnyFamily = Counter | Gauge | Histogram;
