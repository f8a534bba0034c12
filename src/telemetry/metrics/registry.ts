import type { FamilyDelta, FamilyMeta } from '../wire.ts';
import {
  type AnyFamily,
  Counter,
  Gauge,
  type GaugeOptions,
  Histogram,
  type HistogramOptions,
  type MetricOptions,
} from './instruments.ts';

function sameMeta(a: FamilyMeta, b: FamilyMeta): boolean {
  return (
    a.kind === b.kind &&
    a.labels.join(',') === b.labels.join(',') &&
    (a.buckets ?? []).join(',') === (b.buckets ?? []).join(',') &&
    (a.merge ?? 'sum') === (b.merge ?? 'sum')
  );
}

/**
 * The metric families of one process. Declaring the same family twice returns the first one
 * (so modules can declare what they use); a conflicting declaration throws at once.
 */
export class MetricRegistry {
  readonly #families = new Map<string, AnyFamily>();
  readonly #beforeCollect: Array<() => void> = [];

  #declare<F extends AnyFamily>(family: F): F {
    const existing = this.#families.get(family.meta.name);
    if (existing !== undefined) {
      if (!sameMeta(existing.meta, family.meta)) {
        throw new TypeError(`metric ${family.meta.name} is already declared differently`);
      }
      return existing as F;
    }
    this.#families.set(family.meta.name, family);
    return family;
  }

  /** Declares a counter. */
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.#declare(new Counter<L>(options) as unknown as AnyFamily) as unknown as Counter<L>;
  }

  /** Declares a gauge. */
  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    return this.#declare(new Gauge<L>(options) as unknown as AnyFamily) as unknown as Gauge<L>;
  }

  /** Declares a histogram. */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.#declare(
      new Histogram<L>(options) as unknown as AnyFamily,
    ) as unknown as Histogram<L>;
  }

  /** The family of a name, if declared. */
  get(name: string): AnyFamily | undefined {
    return this.#families.get(name);
  }

  /** Runs a function right before every collection (samplers refresh gauges there). */
  beforeCollect(fn: () => void): void {
    this.#beforeCollect.push(fn);
  }

  /** The changes since the previous collection, family by family. */
  collect(): FamilyDelta[] {
    for (const fn of this.#beforeCollect) {
      try {
        fn();
      } catch {
        // A failing sampler must not stop the others or the metrics flow.
      }
    }
    const out: FamilyDelta[] = [];
    for (const family of this.#families.values()) {
      const d = family.collect();
      if (d !== undefined) out.push(d);
    }
    return out;
  }
}
