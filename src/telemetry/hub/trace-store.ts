import type { WireSpan } from '../metrics/wire.ts';

/** A kept trace as the dashboard lists it: its spans seen by this node and its local root. */
export interface StoredTrace {
  readonly traceId: string;
  readonly spans: WireSpan[];
  /** The server span (or first local root) that names the trace. */
  root: WireSpan | undefined;
  /** Root duration in ms. */
  duration: number;
  error: boolean;
  /** When the root ended (ms since the epoch). */
  time: number;
}

/** Limits of the trace store. */
export interface TraceStoreOptions {
  /** Most traces kept in memory (default 1000). */
  maxTraces?: number;
  /** Size of each of the recent, slowest and error lists (default 50). */
  listSize?: number;
  /** Most spans kept per trace (default 500). */
  maxSpansPerTrace?: number;
}

/**
 * Recent, slowest and failed kept traces in the master, for the dashboard. Bounded: the oldest
 * trace goes when a new one arrives beyond `maxTraces`.
 */
export class TraceStore {
  readonly #traces = new Map<string, StoredTrace>();
  readonly #max: number;
  readonly #listSize: number;
  readonly #maxSpans: number;
  #slowest: StoredTrace[] = [];
  #errors: StoredTrace[] = [];

  constructor(options: TraceStoreOptions = {}) {
    this.#max = options.maxTraces ?? 1000;
    this.#listSize = options.listSize ?? 50;
    this.#maxSpans = options.maxSpansPerTrace ?? 500;
  }

  /** Adds kept spans (any order; children may come before their root). */
  add(spans: readonly WireSpan[]): void {
    for (const span of spans) {
      let t = this.#traces.get(span.traceId);
      if (t === undefined) {
        t = {
          traceId: span.traceId,
          spans: [],
          root: undefined,
          duration: 0,
          error: false,
          time: 0,
        };
        this.#traces.set(span.traceId, t);
        if (this.#traces.size > this.#max) this.#evict();
      }
      if (t.spans.length < this.#maxSpans) t.spans.push(span);
      const isRoot = span.kind === 1 || span.parentSpanId === '' || span.remoteParent;
      if (isRoot && (t.root === undefined || span.start < t.root.start)) {
        t.root = span;
        t.duration = span.end - span.start;
        t.time = span.end;
        t.error = span.statusCode === 2;
        this.#rank(t);
      }
    }
  }

  #evict(): void {
    const oldest = this.#traces.keys().next().value as string;
    this.#traces.delete(oldest);
    this.#slowest = this.#slowest.filter((t) => t.traceId !== oldest);
    this.#errors = this.#errors.filter((t) => t.traceId !== oldest);
  }

  #rank(t: StoredTrace): void {
    if (t.error) {
      this.#errors = [t, ...this.#errors.filter((x) => x !== t)].slice(0, this.#listSize);
    }
    const slow = this.#slowest.filter((x) => x !== t);
    slow.push(t);
    slow.sort((a, b) => b.duration - a.duration);
    this.#slowest = slow.slice(0, this.#listSize);
  }

  /** The most recent traces, newest first. */
  recent(limit = this.#listSize): StoredTrace[] {
    const out: StoredTrace[] = [];
    for (const t of this.#traces.values()) if (t.root !== undefined) out.push(t);
    return out.sort((a, b) => b.time - a.time).slice(0, limit);
  }

  /** The slowest kept traces, slowest first. */
  slowest(): StoredTrace[] {
    return [...this.#slowest];
  }

  /** The latest failed traces, newest first. */
  errors(): StoredTrace[] {
    return [...this.#errors];
  }

  /** One trace by id. */
  get(traceId: string): StoredTrace | undefined {
    return this.#traces.get(traceId);
  }
}
