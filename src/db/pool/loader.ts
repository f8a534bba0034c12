import type { QueryOptions } from '../db.ts';
import type { PgResult } from './statements.ts';

/** One call waiting for its loader batch. */
export interface LoaderCall {
  values: readonly unknown[] | undefined;
  options: QueryOptions | undefined;
  resolve(result: PgResult): void;
  reject(err: unknown): void;
}

/**
 * Collects the calls made in one turn of the event loop and hands them to `run` in batches of
 * at most `maxBatch`, after every I/O callback of that turn (so the requests read in it share a
 * batch). A caller whose signal fires is answered at once; `run` answers the others.
 */
export function turnBatches(
  maxBatch: number,
  run: (calls: LoaderCall[]) => void,
): (
  values: readonly unknown[] | undefined,
  options: QueryOptions | undefined,
) => Promise<PgResult> {
  let queue: LoaderCall[] = [];
  const flush = () => {
    const calls = queue;
    queue = [];
    if (calls.length <= maxBatch) run(calls);
    else for (let i = 0; i < calls.length; i += maxBatch) run(calls.slice(i, i + maxBatch));
  };
  return (values, options) =>
    new Promise<PgResult>((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      if (queue.length === 0) setImmediate(flush);
      if (signal === undefined) {
        queue.push({ values, options, resolve, reject });
        return;
      }
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      queue.push({
        values,
        options,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
    });
}

/**
 * The calls of a batch still waiting (an aborted one was answered when it fired), and what
 * bounds the batch: its most pressing caller's deadline and timeout.
 */
export function liveCalls(calls: readonly LoaderCall[]): {
  live: LoaderCall[];
  bounds: QueryOptions;
} {
  let deadline: number | undefined;
  let timeout: number | undefined;
  const live: LoaderCall[] = [];
  for (const c of calls) {
    if (c.options?.signal?.aborted) continue;
    live.push(c);
    const d = c.options?.req?.deadline;
    if (d !== undefined && (deadline === undefined || d < deadline)) deadline = d;
    const t = c.options?.timeout;
    if (t !== undefined && (timeout === undefined || t < timeout)) timeout = t;
  }
  return {
    live,
    bounds: {
      ...(deadline !== undefined ? { req: { deadline } } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
    },
  };
}
