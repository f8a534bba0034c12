/**
 * The service graph, built at ingest the way the OpenTelemetry collector's servicegraph connector
 * builds it: a client span (kind CLIENT or PRODUCER) and a server span (SERVER or CONSUMER) pair
 * when the server span's parent is the client span; each half waits a bounded time for the other.
 * Client spans to a database or cache (`db.system`) become edges to a leaf node at once; client
 * spans whose server half never arrives become edges to a leaf named by `service.peer.name` (or
 * `peer.service`),
 * `server.address` (or the URL's host) when the wait ends.
 */
import type { SpanRecord } from './decode.ts';

/** Latency histogram bounds, in milliseconds (the last bucket is everything above). */
export const BOUNDS_MS = [
  0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000,
  3000, 5000, 7500, 10000,
];

/** Node kinds. */
export type NodeKind = 'service' | 'database' | 'cache' | 'external';

/** One observed call on an edge. */
export interface EdgeCall {
  source: string;
  target: string;
  targetKind: NodeKind;
  /** When the call started (µs since the epoch). */
  startUs: number;
  durationUs: number;
  failed: boolean;
}

/** One server span counted for its service's node. */
export interface NodeCall {
  service: string;
  /** The server span's name (its operation: `GET /items/{id}`). */
  operation: string;
  startUs: number;
  durationUs: number;
  failed: boolean;
}

const CACHES = new Set(['redis', 'memcached', 'valkey', 'hazelcast', 'geode', 'coherence']);

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The leaf node a client span names, or undefined when it names none. */
export function leafOf(span: SpanRecord): { name: string; kind: NodeKind } | undefined {
  const a = span.attributes;
  const system = text(a['db.system.name']) ?? text(a['db.system']);
  if (system !== undefined) {
    const kind: NodeKind = CACHES.has(system) ? 'cache' : 'database';
    const where = text(a['db.namespace']) ?? text(a['db.name']);
    return { name: where !== undefined ? `${system}/${where}` : system, kind };
  }
  const peer = text(a['service.peer.name']) ?? text(a['peer.service']);
  if (peer !== undefined) return { name: peer, kind: 'external' };
  const address = text(a['server.address']) ?? text(a['net.peer.name']);
  if (address !== undefined) {
    const port = a['server.port'] ?? a['net.peer.port'];
    return { name: port !== undefined ? `${address}:${String(port)}` : address, kind: 'external' };
  }
  const url = text(a['url.full']) ?? text(a['http.url']);
  if (url !== undefined) {
    try {
      return { name: new URL(url).host, kind: 'external' };
    } catch {
      // not a URL
    }
  }
  return undefined;
}

interface Pending {
  span: SpanRecord;
  at: number;
}

/** Pairs client and server spans into edge calls. */
export class ServiceGraph {
  readonly #clients = new Map<string, Pending>();
  readonly #servers = new Map<string, Pending>();
  readonly #waitMs: number;
  readonly #maxPending: number;
  /** Halves that found no partner before their wait ended (or were pushed out). */
  unpaired = 0;
  /** Pairs made. */
  paired = 0;

  constructor(options: { waitMs: number; maxPending: number }) {
    this.#waitMs = options.waitMs;
    this.#maxPending = options.maxPending;
  }

  /** Pending halves. */
  get pending(): number {
    return this.#clients.size + this.#servers.size;
  }

  /** Takes the spans of one request; returns the edge calls and node calls they complete. */
  add(spans: readonly SpanRecord[], now: number): { edges: EdgeCall[]; nodes: NodeCall[] } {
    const edges: EdgeCall[] = [];
    const nodes: NodeCall[] = [];
    for (const span of spans) {
      if (span.kind === 2 || span.kind === 5) {
        nodes.push({
          service: span.service,
          operation: span.name,
          startUs: span.startUs,
          durationUs: span.durationUs,
          failed: span.status === 2,
        });
        if (span.parentId === '') continue;
        const key = `${span.traceId}${span.parentId}`;
        const client = this.#clients.get(key);
        if (client !== undefined) {
          this.#clients.delete(key);
          edges.push(this.#pair(client.span, span));
        } else {
          this.#park(this.#servers, key, span, now, edges);
        }
      } else if (span.kind === 3 || span.kind === 4) {
        const leaf = leafOf(span);
        if (leaf !== undefined && leaf.kind !== 'external') {
          edges.push(this.#leafCall(span, leaf.name, leaf.kind));
          continue;
        }
        const key = `${span.traceId}${span.spanId}`;
        const server = this.#servers.get(key);
        if (server !== undefined) {
          this.#servers.delete(key);
          edges.push(this.#pair(span, server.span));
        } else {
          this.#park(this.#clients, key, span, now, edges);
        }
      }
    }
    return { edges, nodes };
  }

  /** Ends the wait of halves older than the wait; returns the leaf edges unpaired clients make. */
  expire(now: number): EdgeCall[] {
    const out: EdgeCall[] = [];
    const limit = now - this.#waitMs;
    for (const [key, p] of this.#clients) {
      if (p.at > limit) break;
      this.#clients.delete(key);
      this.#expired(p.span, out);
    }
    for (const [key, p] of this.#servers) {
      if (p.at > limit) break;
      this.#servers.delete(key);
      this.unpaired++;
    }
    return out;
  }

  #park(
    into: Map<string, Pending>,
    key: string,
    span: SpanRecord,
    now: number,
    out: EdgeCall[],
  ): void {
    into.set(key, { span, at: now });
    if (into.size > this.#maxPending) {
      // Oldest first (insertion order): the bound on memory wins over the wait.
      const [oldKey, old] = into.entries().next().value as [string, Pending];
      into.delete(oldKey);
      if (into === this.#clients) this.#expired(old.span, out);
      else this.unpaired++;
    }
  }

  #expired(span: SpanRecord, out: EdgeCall[]): void {
    this.unpaired++;
    const leaf = leafOf(span);
    if (leaf !== undefined) out.push(this.#leafCall(span, leaf.name, leaf.kind));
  }

  #leafCall(span: SpanRecord, target: string, kind: NodeKind): EdgeCall {
    return {
      source: span.service,
      target,
      targetKind: kind,
      startUs: span.startUs,
      durationUs: span.durationUs,
      failed: span.status === 2,
    };
  }

  #pair(client: SpanRecord, server: SpanRecord): EdgeCall {
    this.paired++;
    return {
      source: client.service,
      target: server.service,
      targetKind: 'service',
      startUs: client.startUs,
      durationUs: client.durationUs,
      failed: client.status === 2 || server.status === 2,
    };
  }
}

/** The bucket index of a duration. */
export function bucketOf(durationUs: number): number {
  const ms = durationUs / 1000;
  let i = 0;
  while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
  return i;
}

/** A quantile (0–1) of a histogram, in ms, interpolated within its bucket. */
export function quantileMs(counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= rank && c > 0) {
      const lo = i === 0 ? 0 : BOUNDS_MS[i - 1]!;
      const hi = BOUNDS_MS[i] ?? lo * 2;
      return lo + ((hi - lo) * (rank - seen)) / c;
    }
    seen += c;
  }
  return BOUNDS_MS[BOUNDS_MS.length - 1]!;
}
