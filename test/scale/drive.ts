import { Agent, request } from 'node:http';

// A bounded closed-loop load through the balancer that remembers every request: when it was
// sent and answered, its status, which node answered (`x-node`), or why it got no answer.

/** One request. */
export interface Shot {
  /** Sent / answered, ms since epoch. */
  start: number;
  end: number;
  status: number;
  node: string;
  error?: string;
}

/** A running load. */
export interface Drive {
  readonly shots: Shot[];
  /** Requests sent and not answered yet. */
  inflight(): number;
  /** Stops sending; resolves with every shot once the last one is answered. */
  stop(): Promise<Shot[]>;
}

/** `connections` keep-alive connections to 127.0.0.1:`port`, each sending back to back. */
export function drive(options: {
  port: number;
  path?: string | (() => string);
  connections: number;
  /** Hard bound on the run (the caller normally calls stop() first). */
  maxMs: number;
  timeoutMs?: number;
  /** Pause between the requests of one connection, ms (0: none). */
  pauseMs?: number;
}): Drive {
  const shots: Shot[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const end = Date.now() + options.maxMs;
  let stopped = false;
  let inflight = 0;
  const path = options.path ?? '/json';
  const one = () =>
    new Promise<Shot>((resolve) => {
      const start = Date.now();
      const done = (status: number, node: string, error?: string) =>
        resolve({ start, end: Date.now(), status, node, error });
      const req = request(
        {
          host: '127.0.0.1',
          port: options.port,
          path: typeof path === 'string' ? path : path(),
          agent,
        },
        (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode ?? 0, String(res.headers['x-node'] ?? '')));
          res.on('error', (err) => done(0, '', err.message));
        },
      );
      req.setTimeout(options.timeoutMs ?? 20_000, () =>
        req.destroy(new Error(`no answer within ${options.timeoutMs ?? 20_000} ms`)),
      );
      req.on('error', (err) => done(0, '', err.message));
      req.end();
    });
  const loops = Array.from({ length: options.connections }, async () => {
    while (!stopped && Date.now() < end) {
      inflight++;
      const shot = await one();
      inflight--;
      shots.push(shot);
      if (shot.error !== undefined) await new Promise((r) => setTimeout(r, 10));
      else if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  });
  const all = Promise.all(loops);
  return {
    shots,
    inflight: () => inflight,
    async stop() {
      stopped = true;
      await all;
      agent.destroy();
      return shots;
    },
  };
}

/** Counts of a set of shots, for assertions and the record. */
export interface Tally {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  byNode: Record<string, number>;
  statuses: Record<string, number>;
  firstErrors: string[];
}

/** Tallies shots (optionally only those sent in [from, to)). */
export function tally(shots: readonly Shot[], from = 0, to = Number.POSITIVE_INFINITY): Tally {
  const t: Tally = {
    sent: 0,
    ok: 0,
    non2xx: 0,
    errors: 0,
    byNode: {},
    statuses: {},
    firstErrors: [],
  };
  for (const s of shots) {
    if (s.start < from || s.start >= to) continue;
    t.sent++;
    if (s.error !== undefined) {
      t.errors++;
      if (t.firstErrors.length < 5) t.firstErrors.push(s.error);
      continue;
    }
    t.statuses[s.status] = (t.statuses[s.status] ?? 0) + 1;
    if (s.status >= 200 && s.status < 300) {
      t.ok++;
      t.byNode[s.node] = (t.byNode[s.node] ?? 0) + 1;
    } else {
      t.non2xx++;
    }
  }
  return t;
}
