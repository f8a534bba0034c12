/**
 * Quantiles and Apdex from a histogram's bucket counts, the way Prometheus' `histogram_quantile`
 * computes them: find the bucket the rank falls in, interpolate linearly inside it (the first
 * bucket starts at 0); a rank in the +Inf bucket answers the largest finite bound. Counts are
 * summed over workers and over time first, so a window's p99 is the p99 of every request in it,
 * never an average of per-second or per-worker percentiles. No requests: null (a gap).
 */
export function quantile(
  q: number,
  bounds: readonly number[],
  counts: ArrayLike<number>,
): number | null {
  let total = 0;
  for (let i = 0; i <= bounds.length; i++) total += counts[i] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i] ?? 0;
    if (c > 0 && below + c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + ((bounds[i]! - lower) * (rank - below)) / c;
    }
    below += c;
  }
  return bounds[bounds.length - 1]!;
}

/**
 * How many observations were at most `x`, interpolating linearly inside the bucket `x` falls in
 * (exact when `x` is a bucket bound). Nothing in the +Inf bucket counts as at most a finite x.
 */
export function countAtMost(
  x: number,
  bounds: readonly number[],
  counts: ArrayLike<number>,
): number {
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i] ?? 0;
    const upper = bounds[i]!;
    if (x >= upper) {
      below += c;
      continue;
    }
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (x > lower) below += (c * (x - lower)) / (upper - lower);
    return below;
  }
  return below;
}

/**
 * Apdex with threshold T: (satisfied + tolerating / 2) / total, where satisfied took at most T,
 * tolerating at most 4T, and `failed` requests (5xx) count as frustrated whatever their time.
 * Failures are taken out of the satisfied and tolerating shares in proportion. Null when empty.
 */
export function apdex(
  t: number,
  bounds: readonly number[],
  counts: ArrayLike<number>,
  failed = 0,
): number | null {
  let total = 0;
  for (let i = 0; i <= bounds.length; i++) total += counts[i] ?? 0;
  if (total === 0) return null;
  const ok = Math.max(0, (total - failed) / total);
  const satisfied = countAtMost(t, bounds, counts) * ok;
  const tolerating = (countAtMost(4 * t, bounds, counts) - countAtMost(t, bounds, counts)) * ok;
  return (satisfied + tolerating / 2) / total;
}
