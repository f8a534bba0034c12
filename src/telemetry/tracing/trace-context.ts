import type { TraceState as OtelTraceState } from '@opentelemetry/api';
import { isValidSpanId, isValidTraceId } from './ids.ts';

/** A parent from a `traceparent` header. */
export interface RemoteParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly traceState: TraceState | undefined;
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const KEY_RE =
  /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
const VALUE_RE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_ENTRIES = 32;

/**
 * Parses a W3C `traceparent` header. Version 00 must be exactly four fields; a later version may
 * carry more (they are ignored), as the spec asks. Invalid headers yield undefined: a new trace.
 */
export function parseTraceparent(
  header: string | undefined,
  tracestate?: string | string[],
): RemoteParent | undefined {
  if (header === undefined || header.length < 55) return undefined;
  const m = TRACEPARENT_RE.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId)) return undefined;
  const raw = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  return {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & 1,
    traceState: raw === undefined || raw === '' ? undefined : TraceState.parse(raw),
  };
}

/** Formats a `traceparent` header (version 00). */
export function formatTraceparent(traceId: string, spanId: string, traceFlags: number): string {
  return `00-${traceId}-${spanId}-${traceFlags & 1 ? '01' : '00'}`;
}

/**
 * W3C `tracestate`: vendor entries kept in order, invalid entries dropped, at most 32 entries.
 * Immutable, as `@opentelemetry/api` expects.
 */
export class TraceState implements OtelTraceState {
  readonly #entries: ReadonlyArray<readonly [string, string]>;

  private constructor(entries: ReadonlyArray<readonly [string, string]>) {
    this.#entries = entries;
  }

  /** Parses a header value; invalid members are skipped. */
  static parse(header: string): TraceState {
    const entries: Array<[string, string]> = [];
    const seen = new Set<string>();
    if (header.length <= 512) {
      for (const member of header.split(',')) {
        const t = member.trim();
        if (t === '') continue;
        const eq = t.indexOf('=');
        if (eq <= 0) continue;
        const key = t.slice(0, eq);
        const value = t.slice(eq + 1);
        if (!KEY_RE.test(key) || !VALUE_RE.test(value) || seen.has(key)) continue;
        seen.add(key);
        entries.push([key, value]);
        if (entries.length === MAX_ENTRIES) break;
      }
    }
    return new TraceState(entries);
  }

  /** A trace state with `key` set (moved to the front, as the spec asks of updates). */
  set(key: string, value: string): TraceState {
    if (!KEY_RE.test(key) || !VALUE_RE.test(value)) return this;
    const rest = this.#entries.filter(([k]) => k !== key);
    const next: Array<readonly [string, string]> = [[key, value], ...rest];
    return new TraceState(next.slice(0, MAX_ENTRIES));
  }

  /** A trace state without `key`. */
  unset(key: string): TraceState {
    return new TraceState(this.#entries.filter(([k]) => k !== key));
  }

  /** The value of `key`. */
  get(key: string): string | undefined {
    for (const [k, v] of this.#entries) if (k === key) return v;
    return undefined;
  }

  /** The header value. */
  serialize(): string {
    return this.#entries.map(([k, v]) => `${k}=${v}`).join(',');
  }
}
