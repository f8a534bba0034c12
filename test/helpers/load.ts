import { Agent, request } from 'node:http';

/** One response seen by the load loop. */
export interface Sample {
  /** When the request was sent (ms since the loop started). */
  at: number;
  /** Round-trip time in ms. */
  ms: number;
  /** HTTP status, or 0 if the request failed at the socket. */
  status: number;
  /** The response body. */
  body: string;
  /** Response headers. */
  headers: Record<string, string | string[] | undefined>;
}

/** Sends one GET and resolves with its sample (never rejects). */
export function get(url: string, agent?: Agent, start = performance.now()): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          at: t0 - start,
          ms: performance.now() - t0,
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        }),
      );
      res.on('error', () =>
        resolve({ at: t0 - start, ms: performance.now() - t0, status: 0, body: '', headers: {} }),
      );
    });
    req.on('error', () =>
      resolve({ at: t0 - start, ms: performance.now() - t0, status: 0, body: '', headers: {} }),
    );
    req.end();
  });
}

/**
 * Keeps `concurrency` GETs in flight against `url` until `stop()` is called (bounded by
 * `maxMs`), with a short pause between requests of one loop so the load stays moderate.
 */
export function loop(
  url: string,
  options: { concurrency: number; maxMs: number; pauseMs?: number },
): { samples: Sample[]; stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const start = performance.now();
  let running = true;
  const loops = Array.from({ length: options.concurrency }, async () => {
    while (running && performance.now() - start < options.maxMs) {
      samples.push(await get(url, agent, start));
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  });
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return samples;
    },
  };
}

/** The p-th percentile (0–100) of some numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
