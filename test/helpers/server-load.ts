import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** What a load run saw. */
export interface LoadResult {
  /** Requests sent. */
  sent: number;
  /** Answers by status. */
  statuses: Map<number, number>;
  /** Requests that got no answer (reset, refused, timeout), with why. */
  errors: Array<{ message: string; pid: number; at: number }>;
  /** 2xx answers by the worker pid that gave them. */
  byPid: Map<number, number>;
  /** Latency of every answered request by status, ms. */
  latencies: Map<number, number[]>;
}

function newResult(): LoadResult {
  return { sent: 0, statuses: new Map(), errors: [], byPid: new Map(), latencies: new Map() };
}

function record(result: LoadResult, status: number, pid: number, ms: number): void {
  result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
  if (status >= 200 && status < 300) result.byPid.set(pid, (result.byPid.get(pid) ?? 0) + 1);
  const list = result.latencies.get(status) ?? [];
  list.push(ms);
  result.latencies.set(status, list);
}

/** Answers with a 2xx status. */
export function okCount(result: LoadResult): number {
  let n = 0;
  for (const [status, count] of result.statuses) if (status >= 200 && status < 300) n += count;
  return n;
}

/** Answers with any other status. */
export function non2xx(result: LoadResult): number {
  let n = 0;
  for (const [status, count] of result.statuses) if (status < 200 || status >= 300) n += count;
  return n;
}

/** The p-th percentile (0–100) of some numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Outcome {
  status: number;
  pid: number;
  error?: Error;
}

function send(agent: Agent, port: number, path: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, pid: Number(res.headers['x-pid'] ?? 0) }),
      );
      res.on('error', (error) => resolve({ status: 0, pid: 0, error }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ status: 0, pid: 0, error }));
    req.end();
  });
}

/** A closed-loop load: each connection sends its next request when the last one is answered. */
export interface ClosedLoop {
  /** For each worker pid, how many connections have a request in flight on it right now. */
  inflightByPid(): Map<number, number>;
  /** Connections whose last answer came from each pid. */
  connectionsByPid(): Map<number, number>;
  /** Stops sending; resolves when every connection is idle. */
  stop(): Promise<LoadResult>;
  /** Resolves when the run ends (duration reached or stopped). */
  readonly done: Promise<LoadResult>;
}

/** Starts `connections` keep-alive connections, each sending requests back to back. */
export function closedLoop(options: {
  port: number;
  path: string;
  connections: number;
  durationMs: number;
  timeoutMs?: number;
}): ClosedLoop {
  const result = newResult();
  const end = Date.now() + options.durationMs;
  let stopped = false;
  const state = Array.from({ length: options.connections }, () => ({
    agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    pid: 0,
    busy: false,
  }));
  const runners = state.map(async (conn) => {
    while (!stopped && Date.now() < end) {
      conn.busy = true;
      result.sent++;
      const started = performance.now();
      const outcome = await send(
        conn.agent,
        options.port,
        options.path,
        options.timeoutMs ?? 10_000,
      );
      conn.busy = false;
      if (outcome.error !== undefined) {
        result.errors.push({ message: outcome.error.message, pid: conn.pid, at: Date.now() });
        conn.pid = 0;
        await new Promise((r) => setTimeout(r, 5));
      } else {
        conn.pid = outcome.pid;
        record(result, outcome.status, outcome.pid, performance.now() - started);
      }
    }
    conn.agent.destroy();
  });
  const done = Promise.all(runners).then(() => result);
  const tally = (pick: (c: (typeof state)[number]) => boolean) => {
    const m = new Map<number, number>();
    for (const c of state) if (pick(c)) m.set(c.pid, (m.get(c.pid) ?? 0) + 1);
    return m;
  };
  return {
    inflightByPid: () => tally((c) => c.busy),
    connectionsByPid: () => tally(() => true),
    stop() {
      stopped = true;
      return done;
    },
    done,
  };
}

/**
 * An open-loop load: requests start at a fixed rate whether or not earlier ones were answered,
 * as real clients do. Latency counts from the scheduled start, so queueing is not hidden, not
 * even queueing in the client's own connection pool. With `prewarm`, that many keep-alive
 * connections are opened first (with `prewarmPath`), as a load balancer keeps its upstream pool.
 */
export async function openLoop(options: {
  port: number;
  path: string;
  rate: number;
  durationMs: number;
  timeoutMs?: number;
  maxSockets?: number;
  prewarm?: number;
  prewarmPath?: string;
}): Promise<LoadResult> {
  const result = newResult();
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 512 });
  if (options.prewarm !== undefined) {
    const warm = Array.from({ length: options.prewarm }, () =>
      send(agent, options.port, options.prewarmPath ?? '/json', 10_000),
    );
    await Promise.all(warm);
  }
  const interval = 1000 / options.rate;
  const start = performance.now();
  const total = Math.floor((options.durationMs / 1000) * options.rate);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    result.sent++;
    pending.push(
      send(agent, options.port, options.path, options.timeoutMs ?? 15_000).then((outcome) => {
        if (outcome.error !== undefined) {
          result.errors.push({ message: outcome.error.message, pid: 0, at: Date.now() });
        } else {
          record(result, outcome.status, outcome.pid, performance.now() - due);
        }
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return result;
}

/** Summarises a result for assertion messages. */
export function describe(result: LoadResult): string {
  const statuses = [...result.statuses].map(([s, n]) => `${s}×${n}`).join(' ');
  const errors = result.errors.slice(0, 5).map((e) => e.message);
  return `sent ${result.sent}; statuses ${statuses}; errors ${result.errors.length} ${JSON.stringify(errors)}`;
}
