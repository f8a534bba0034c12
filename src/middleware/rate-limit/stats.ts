/** Counters of one rate-limit policy in this process (read by telemetry once per flush). */
export interface RateLimitStats {
  /** Requests the policy let through. */
  allowed: number;
  /** Requests refused with 429. */
  rejected: number;
  /** Requests the store could not decide (Redis down or slow, the master silent)… */
  storeErrors: number;
  /** …of which were let through because the policy fails open. */
  failedOpen: number;
}

const STATS = new Map<string, RateLimitStats>();

/** The counters of policy `name` (shared by limiters of the same name). */
export function statsFor(name: string): RateLimitStats {
  let s = STATS.get(name);
  if (s === undefined) {
    s = { allowed: 0, rejected: 0, storeErrors: 0, failedOpen: 0 };
    STATS.set(name, s);
  }
  return s;
}

/**
 * The counters of every rate-limit policy of this process, by name: plain numbers the limiter
 * increments, sampled by telemetry (pull), so they cost nothing more when nobody reads them.
 */
export function rateLimitSnapshot(): Readonly<Record<string, Readonly<RateLimitStats>>> {
  return Object.fromEntries(STATS);
}
