import type {
  FamilyDelta,
  FamilyMeta,
  HistogramDelta,
  ScalarDelta,
  WireExemplar,
} from '../wire.ts';

/** A cumulative counter series in the master. */
export interface StoredCounter {
  readonly labelValues: readonly string[];
  value: number;
}

/** A gauge series in the master: the latest value of each worker that reported it. */
export interface StoredGauge {
  readonly labelValues: readonly string[];
  readonly byWorker: Map<string, number>;
}

/** The latest kept trace seen in a bucket. */
export interface StoredExemplar {
  readonly value: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly timeMs: number;
}

/** A cumulative histogram series in the master. */
export interface StoredHistogram {
  readonly labelValues: readonly string[];
  readonly counts: Float64Array;
  count: number;
  sum: number;
  readonly exemplars: Array<StoredExemplar | undefined>;
}

/** A metric family with every series merged over the workers. */
export interface StoredFamily {
  readonly meta: FamilyMeta;
  readonly series: Map<string, StoredCounter | StoredGauge | StoredHistogram>;
  /** Who has reported it (worker ids, `master`), so the exposition can say how it is merged. */
  readonly sources: Set<string>;
}

/** The source name of the master's own metrics. */
export const MASTER_SOURCE = 'master';

function sameShape(a: FamilyMeta, b: FamilyMeta): boolean {
  return (
    a.kind === b.kind &&
    a.labels.length === b.labels.length &&
    a.labels.every((l, i) => l === b.labels[i]) &&
    (a.buckets ?? []).length === (b.buckets ?? []).length &&
    (a.buckets ?? []).every((x, i) => x === b.buckets![i])
  );
}

/**
 * The master's merged view of every worker's metrics. Counters and histograms are cumulative
 * sums of the deltas the workers sent, kept here, so a worker that restarts (and starts again
 * from zero) never makes a total go backwards. Gauges keep one value per live worker.
 */
export class MetricStore {
  readonly #families = new Map<string, StoredFamily>();
  /** Deltas whose family shape contradicted an earlier declaration (dropped). */
  conflicts = 0;

  /** Adds one worker's deltas. */
  ingest(worker: string, deltas: readonly FamilyDelta[]): void {
    for (const d of deltas) {
      let fam = this.#families.get(d.meta.name);
      if (fam === undefined) {
        fam = { meta: d.meta, series: new Map(), sources: new Set() };
        this.#families.set(d.meta.name, fam);
      } else if (!sameShape(fam.meta, d.meta)) {
        this.conflicts++;
        continue;
      }
      fam.sources.add(worker);
      switch (fam.meta.kind) {
        case 'counter':
          for (const s of d.series as ScalarDelta[]) this.#addCounter(fam, s);
          break;
        case 'gauge':
          for (const s of d.series as ScalarDelta[]) this.#setGauge(fam, worker, s);
          break;
        case 'histogram':
          for (const s of d.series as HistogramDelta[]) this.#addHistogram(fam, s);
          break;
      }
    }
  }

  /** Forgets a worker's gauges (its counters stay in the totals). */
  forgetWorker(worker: string): void {
    for (const fam of this.#families.values()) {
      if (fam.meta.kind !== 'gauge') continue;
      for (const [key, s] of fam.series) {
        const g = s as StoredGauge;
        g.byWorker.delete(worker);
        if (g.byWorker.size === 0) fam.series.delete(key);
      }
    }
  }

  /** The merged families, in declaration order. */
  families(): IterableIterator<StoredFamily> {
    return this.#families.values();
  }

  /** One family by name. */
  family(name: string): StoredFamily | undefined {
    return this.#families.get(name);
  }

  #addCounter(fam: StoredFamily, [labels, value]: ScalarDelta): void {
    if (labels.length !== fam.meta.labels.length || !(value >= 0)) return;
    const key = labels.join('\u0000');
    const s = fam.series.get(key) as StoredCounter | undefined;
    if (s === undefined) fam.series.set(key, { labelValues: labels, value });
    else s.value += value;
  }

  #setGauge(fam: StoredFamily, worker: string, [labels, value]: ScalarDelta): void {
    if (labels.length !== fam.meta.labels.length) return;
    const key = labels.join('\u0000');
    let s = fam.series.get(key) as StoredGauge | undefined;
    if (s === undefined) {
      s = { labelValues: labels, byWorker: new Map() };
      fam.series.set(key, s);
    }
    s.byWorker.set(worker, value);
  }

  #addHistogram(fam: StoredFamily, [labels, count, sum, buckets, exemplars]: HistogramDelta): void {
    if (labels.length !== fam.meta.labels.length) return;
    const size = fam.meta.buckets!.length + 1;
    const key = labels.join('\u0000');
    let s = fam.series.get(key) as StoredHistogram | undefined;
    if (s === undefined) {
      s = {
        labelValues: labels,
        counts: new Float64Array(size),
        count: 0,
        sum: 0,
        exemplars: new Array(size).fill(undefined),
      };
      fam.series.set(key, s);
    }
    for (let i = 0; i + 1 < buckets.length; i += 2) {
      const idx = buckets[i]!;
      if (idx >= 0 && idx < size) s.counts[idx]! += buckets[i + 1]!;
    }
    s.count += count;
    s.sum += sum;
    if (exemplars !== undefined) {
      for (const [idx, value, traceId, spanId, timeMs] of exemplars as WireExemplar[]) {
        if (idx >= 0 && idx < size) s.exemplars[idx] = { value, traceId, spanId, timeMs };
      }
    }
  }
}
