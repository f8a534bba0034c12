/**
 * A bounded traffic generator for the reference system: an open loop of `rate` requests a second
 * to the gateway, for `durationMs` or `maxRequests`, whichever ends first, with a mix of fast,
 * slow and failing calls (see products.ts):
 *
 * | share | call                                      | what happens                        |
 * | ----- | ----------------------------------------- | ----------------------------------- |
 * | 60 %  | `GET /products/{sku}`, a fast SKU         | 200 in a few ms                     |
 * | 15 %  | `GET /products?limit=…`                   | 200, one database read              |
 * | 10 %  | `GET /products/{sku}`, a slow SKU         | 200 in 250–350 ms                   |
 * | 10 %  | `GET /products/{sku}`, a failing SKU      | 502 (pricing failed: 500)           |
 * | 5 %   | `GET /products/NOPE-0`                    | 404                                 |
 */
import { FAILING_SKUS, FAST_SKUS, SLOW_SKUS, UNKNOWN_SKU } from './products.ts';

/** Options of `runTraffic`. */
export interface TrafficOptions {
  /** Requests started per second (default 4). */
  rate?: number;
  /** Stop after this long (default 5 minutes). */
  durationMs?: number;
  /** Stop after this many requests (default no bound but the duration). */
  maxRequests?: number;
  /** Requests in flight at most; a request due while this many wait is skipped (default 32). */
  maxInFlight?: number;
  /** Called every `reportEveryMs` (default 10 s) and at the end. */
  onReport?: (summary: TrafficSummary, done: boolean) => void;
  reportEveryMs?: number;
}

/** What the generator sent and what came back. */
export interface TrafficSummary {
  sent: number;
  /** Answers by status class: `2xx`, `4xx`, `5xx`; `failed` had no answer (or timed out). */
  byStatus: Record<'2xx' | '4xx' | '5xx' | 'failed', number>;
  /** Requests skipped because `maxInFlight` were waiting. */
  skipped: number;
}

/** The path of the next request, by the mix above. */
export function nextPath(random: () => number = Math.random): string {
  const r = random();
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)]!;
  if (r < 0.6) return `/products/${pick(FAST_SKUS)}`;
  if (r < 0.75) return `/products?limit=${5 + Math.floor(random() * 10)}`;
  if (r < 0.85) return `/products/${pick(SLOW_SKUS)}`;
  if (r < 0.95) return `/products/${pick(FAILING_SKUS)}`;
  return `/products/${UNKNOWN_SKU}`;
}

/** A running generator: `done` resolves with the summary when it stops (by itself or `stop()`). */
export interface Traffic {
  readonly done: Promise<TrafficSummary>;
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<TrafficSummary>;
}

/** Starts sending to `gatewayUrl` (`http://host:port`). */
export function runTraffic(gatewayUrl: string, options: TrafficOptions = {}): Traffic {
  const rate = options.rate ?? 4;
  if (!(rate > 0 && rate <= 1000)) throw new RangeError('rate must be in (0, 1000]');
  const durationMs = options.durationMs ?? 5 * 60_000;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  const maxInFlight = options.maxInFlight ?? 32;
  const summary: TrafficSummary = {
    sent: 0,
    byStatus: { '2xx': 0, '4xx': 0, '5xx': 0, failed: 0 },
    skipped: 0,
  };
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  let stopped = false;
  let resolveDone!: (s: TrafficSummary) => void;
  const done = new Promise<TrafficSummary>((resolve) => {
    resolveDone = resolve;
  });

  const send = async (path: string) => {
    try {
      const res = await fetch(gatewayUrl + path, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      const cls = res.status >= 500 ? '5xx' : res.status >= 400 ? '4xx' : '2xx';
      summary.byStatus[cls]++;
    } catch {
      summary.byStatus.failed++;
    }
  };
  const tick = () => {
    if (stopped) return;
    if (summary.sent >= maxRequests || Date.now() - started >= durationMs) {
      void finish();
      return;
    }
    if (inFlight.size >= maxInFlight) summary.skipped++;
    else {
      summary.sent++;
      const p = send(nextPath()).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  };
  const timer = setInterval(tick, 1000 / rate);
  const reporter =
    options.onReport === undefined
      ? undefined
      : setInterval(() => options.onReport!(summary, false), options.reportEveryMs ?? 10_000);
  tick();
  const finish = async () => {
    if (stopped) return done;
    stopped = true;
    clearInterval(timer);
    if (reporter !== undefined) clearInterval(reporter);
    await Promise.all(inFlight);
    options.onReport?.(summary, true);
    resolveDone(summary);
    return done;
  };
  return { done, stop: finish };
}
