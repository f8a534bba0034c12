import type { WireSpan } from '../wire.ts';

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
  /**
   * New traces stored per second (as they arrive), beyond which a new trace is stored only if it
   * can enter a list: its span failed, or it is a root slower than the slowest list's last
   * (default 200). Exporting is not affected; this bounds the dashboard's bookkeeping when every
   * trace is kept.
   */
  maxNewPerSecond?: number;
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
  readonly #slowest: StoredTrace[] = [];
  readonly #errors: StoredTrace[] = [];
  /** Traces in either list (so an evicted trace not listed costs no search). */
  readonly #listed = new Set<StoredTrace>();
  readonly #perSecond: number;
  #second = 0;
  #admitted = 0;
  /** New traces not stored because the per-second budget was spent (they were still exported). */
  skipped = 0;

  constructor(options: TraceStoreOptions = {}) {
    this.#max = options.maxTraces ?? 1000;
    this.#listSize = options.listSize ?? 50;
    this.#maxSpans = options.maxSpansPerTrace ?? 500;
    this.#perSecond = options.maxNewPerSecond ?? 200;
  }

  /** Adds kept spans (any order; children may come before their root). */
  add(spans: readonly WireSpan[]): void {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#admitted = 0;
    }
    for (const span of spans) {
      let t = this.#traces.get(span.traceId);
      const isRoot = span.kind === 1 || span.parentSpanId === '' || span.remoteParent;
      if (t === undefined) {
        if (!this.#admit(span, isRoot)) {
          this.skipped++;
          continue;
        }
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
      if (isRoot && (t.root === undefined || span.start < t.root.start)) {
        t.root = span;
        t.duration = span.end - span.start;
        t.time = span.end;
        t.error = span.statusCode === 2;
        this.#rank(t);
      }
    }
  }

  /**
   * Whether a span of a trace not yet stored starts one. PERF: with every trace kept (tens of
   * thousands a second), storing each cost a Map insert and an eviction per span; the dashboard
   * shows 50 of each list, so past the budget only traces that can enter a list are stored.
   */
  #admit(span: WireSpan, isRoot: boolean): boolean {
    if (this.#admitted < this.#perSecond) {
      this.#admitted++;
      return true;
    }
    if (span.statusCode === 2) return true;
    if (!isRoot) return false;
    const slow = this.#slowest;
    return slow.length < this.#listSize || span.end - span.start > slow[slow.length - 1]!.duration;
  }

  #evict(): void {
    const oldest = this.#traces.keys().next().value as string;
    const t = this.#traces.get(oldest)!;
    this.#traces.delete(oldest);
    if (this.#listed.delete(t)) {
      remove(this.#slowest, t);
      remove(this.#errors, t);
    }
  }

  /**
   * PERF: O(1) for the common case (a trace no slower than the slowest list's last, no error);
   * otherwise one binary search and a splice in a list of `listSize`. This runs for every kept
   * span's root in the master: with every trace kept, a filter-push-sort here was the largest
   * single cost of the hub.
   */
  #rank(t: StoredTrace): void {
    const size = this.#listSize;
    if (t.error) {
      remove(this.#errors, t);
      this.#errors.unshift(t);
      this.#listed.add(t);
      if (this.#errors.length > size) this.#unlist(this.#errors.pop()!);
    }
    const slow = this.#slowest;
    const present = remove(slow, t);
    if (!present && slow.length >= size && t.duration <= slow[slow.length - 1]!.duration) return;
    // First index whose duration is below t's: ties keep the earlier trace first.
    let lo = 0;
    let hi = slow.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (slow[mid]!.duration >= t.duration) lo = mid + 1;
      else hi = mid;
    }
    slow.splice(lo, 0, t);
    this.#listed.add(t);
    if (slow.length > size) this.#unlist(slow.pop()!);
  }

  /** Forgets that `t` is in a list once it is in neither. */
  #unlist(t: StoredTrace): void {
    if (!this.#slowest.includes(t) && !this.#errors.includes(t)) this.#listed.delete(t);
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

/** Removes `t` from `list` if it is there; true if it was. */
function remove(list: StoredTrace[], t: StoredTrace): boolean {
  const i = list.indexOf(t);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}
