import { setTimeout } from 'node:timers/promises';

/**
 * Waits `ms`. For simulating work or pacing a client; never to wait for something to happen
 * (use `eventually`, or the event itself).
 */
export function sleep(ms: number): Promise<void> {
  return setTimeout(ms);
}

/**
 * Polls `check` (every 10 ms, or `every`) until it returns something other than `false` or
 * `undefined`, and returns that. Fails after `timeoutMs` with `what`, and the last error `check`
 * threw, if any. For states that announce themselves with no event a test can await.
 */
export async function eventually<T>(
  check: () => T | false | undefined | Promise<T | false | undefined>,
  timeoutMs: number,
  what: string,
  every = 10,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) break;
    await setTimeout(every);
  }
  const cause = last === undefined ? '' : `; last error: ${(last as Error).message ?? last}`;
  throw new Error(`not within ${timeoutMs} ms: ${what}${cause}`);
}
