import { setTimeout } from 'node:timers/promises';

/**
 * Waits `ms`. For simulating work or pacing a client; never to wait for something to happen
 * (wait for the event itself, or use `eventually`).
 */
export function sleep(ms: number): Promise<void> {
  return setTimeout(ms);
}

/**
 * Polls `check` (every 10 ms, or `every`) until it returns something other than `false` or
 * `undefined`, and returns that; fails with `what` after `timeoutMs`. An error `check` throws
 * ends the wait at once (catch it inside `check` if it means "not yet"). For states that
 * announce themselves with no event a test can await.
 */
export async function eventually<T>(
  check: () => T | false | undefined | Promise<T | false | undefined>,
  timeoutMs: number,
  what: string,
  every = 10,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== undefined) return value;
    if (Date.now() >= end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await setTimeout(every);
  }
}
