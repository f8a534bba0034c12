const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Whether a trace id is 32 lower-case hex digits and not all zeros. */
export function isValidTraceId(id: string): boolean {
  return /^[0-9a-f]{32}$/.test(id) && id !== ZERO_TRACE;
}

/** Whether a span id is 16 lower-case hex digits and not all zeros. */
export function isValidSpanId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id) && id !== ZERO_SPAN;
}

/** A random unsigned 32-bit integer. */
function rand32(): number {
  // PERF: ids need to be unique, not secret (OpenTelemetry's own generator uses Math.random);
  // no buffer, no hex until someone reads the id.
  return (Math.random() * 0x100000000) >>> 0;
}

// PERF: Number#toString(16) takes a slow path in V8 (~0.3 µs); four table lookups do not.
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex8(n: number): string {
  return (
    HEX_BYTE[n >>> 24]! +
    HEX_BYTE[(n >>> 16) & 0xff]! +
    HEX_BYTE[(n >>> 8) & 0xff]! +
    HEX_BYTE[n & 0xff]!
  );
}

function put32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** Hex digit values by char code (255: not a digit). */
const HEX_VALUE = new Uint8Array(128).fill(255);
for (let d = 0; d < 16; d++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(d)] = d;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(d)] = d;
}

/**
 * Writes the bytes of a hex id at `at`, stopping at the first pair that is not hex; returns how
 * many bytes were written (a malformed id writes fewer: its encoded length says so).
 */
export function writeHexId(h: string, out: Uint8Array, at: number): number {
  const n = h.length >>> 1;
  let i = 0;
  for (; i < n; i++) {
    const hi = HEX_VALUE[h.charCodeAt(2 * i)] ?? 255;
    const lo = HEX_VALUE[h.charCodeAt(2 * i + 1)] ?? 255;
    if ((hi | lo) > 15) break;
    out[at + i] = (hi << 4) | lo;
  }
  return i;
}

/**
 * A SpanContext whose ids are random numbers turned into hex only when read. Most spans of an
 * unsampled request are never exported, propagated or logged, so most ids are never formatted.
 */
export class LazySpanContext {
  /** W3C trace flags; a new trace's sampling decision sets bit 0 right after construction. */
  traceFlags: number;
  readonly isRemote = false;
  readonly traceState: import('@opentelemetry/api').TraceState | undefined;
  #traceId: string | undefined;
  #spanId: string | undefined;
  #t0: number;
  #t1: number;
  #t2: number;
  #t3: number;
  readonly #s0: number;
  readonly #s1: number;

  /**
   * A context with a new span id, in the given trace, or (traceId undefined) in a new random
   * trace whose low 56 bits `low56` exposes for the ratio sampler.
   */
  constructor(
    traceId: string | undefined,
    traceFlags: number,
    traceState?: import('@opentelemetry/api').TraceState,
  ) {
    this.#traceId = traceId;
    if (traceId === undefined) {
      this.#t0 = rand32();
      this.#t1 = rand32();
      this.#t2 = rand32();
      this.#t3 = rand32() || 1; // never all zeros
    } else {
      this.#t0 = this.#t1 = this.#t2 = this.#t3 = 0;
    }
    this.#s0 = rand32();
    this.#s1 = rand32() || 1;
    this.traceFlags = traceFlags;
    this.traceState = traceState;
  }

  /**
   * A context with a new span id in the trace of `parent`, sharing its random trace id without
   * formatting it (a child of an unsampled request that nothing reads never turns it into hex).
   */
  static childOf(parent: LazySpanContext): LazySpanContext {
    const child = new LazySpanContext(parent.#traceId ?? '', parent.traceFlags, parent.traceState);
    if (parent.#traceId === undefined) {
      child.#traceId = undefined;
      child.#t0 = parent.#t0;
      child.#t1 = parent.#t1;
      child.#t2 = parent.#t2;
      child.#t3 = parent.#t3;
    }
    return child;
  }

  /** The trace id as 32 hex digits. */
  get traceId(): string {
    this.#traceId ??= hex8(this.#t0) + hex8(this.#t1) + hex8(this.#t2) + hex8(this.#t3);
    return this.#traceId;
  }

  /** The span id as 16 hex digits. */
  get spanId(): string {
    this.#spanId ??= hex8(this.#s0) + hex8(this.#s1);
    return this.#spanId;
  }

  /**
   * Writes the trace id's 16 bytes at `at`; returns how many were written (fewer only for a
   * malformed id from elsewhere). PERF: the OTLP encoder's path, with no hex in between.
   */
  writeTraceId(out: Uint8Array, at: number): number {
    if (this.#t3 === 0) return writeHexId(this.#traceId ?? '', out, at);
    put32(out, at, this.#t0);
    put32(out, at + 4, this.#t1);
    put32(out, at + 8, this.#t2);
    put32(out, at + 12, this.#t3);
    return 16;
  }

  /** Writes the span id's 8 bytes at `at`; returns 8. */
  writeSpanId(out: Uint8Array, at: number): number {
    put32(out, at, this.#s0);
    put32(out, at + 4, this.#s1);
    return 8;
  }

  /** The low 56 bits of a new trace's id, for the trace-id-ratio decision. */
  get low56(): number {
    return (this.#t2 & 0xffffff) * 0x100000000 + this.#t3;
  }
}
