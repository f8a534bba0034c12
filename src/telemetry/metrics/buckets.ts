/**
 * OpenTelemetry's advised explicit bucket boundaries for `http.server.request.duration` (seconds),
 * from the HTTP semantic conventions. Shared by every duration histogram so series merge exactly.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Checks that bucket bounds are finite and strictly increasing; returns a frozen copy. */
export function validateBuckets(bounds: readonly number[]): readonly number[] {
  if (bounds.length === 0) throw new TypeError('a histogram needs at least one bucket bound');
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i]!;
    if (!Number.isFinite(b)) throw new TypeError(`bucket bound ${b} is not finite`);
    if (i > 0 && b <= bounds[i - 1]!) {
      throw new TypeError('bucket bounds must be strictly increasing');
    }
  }
  return Object.freeze([...bounds]);
}

/** The index of the bucket a value falls in (`bounds.length` for +Inf); bounds are inclusive. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  // PERF: a linear scan beats binary search for the ~15 bounds histograms use here.
  const n = bounds.length;
  for (let i = 0; i < n; i++) if (value <= bounds[i]!) return i;
  return n;
}
