/** The head sampler of locally started and remotely parented traces. */
export interface SamplerConfig {
  /** Fraction of new traces sampled at their start (0…1). */
  readonly ratio: number;
  /** Follow the sampled flag of a remote parent (parent-based). */
  readonly parentBased: boolean;
}

/**
 * Reads `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (always_on, always_off, traceidratio
 * and their parentbased_ forms). Peregrine's default is parentbased_traceidratio at 1%: errors
 * and slow requests are kept anyway, decided at the end of the request.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): SamplerConfig {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_traceidratio').trim().toLowerCase();
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const argRatio =
    env.OTEL_TRACES_SAMPLER_ARG === undefined ||
    env.OTEL_TRACES_SAMPLER_ARG === '' ||
    Number.isNaN(arg)
      ? undefined
      : Math.min(1, Math.max(0, arg));
  switch (name) {
    case 'always_on':
      return { ratio: 1, parentBased: false };
    case 'always_off':
      return { ratio: 0, parentBased: false };
    case 'parentbased_always_on':
      return { ratio: 1, parentBased: true };
    case 'parentbased_always_off':
      return { ratio: 0, parentBased: true };
    case 'traceidratio':
      return { ratio: argRatio ?? 1, parentBased: false };
    default:
      // parentbased_traceidratio and anything unknown; the spec's default ratio is 1, ours 1%.
      return {
        ratio: argRatio ?? (env.OTEL_TRACES_SAMPLER === undefined ? 0.01 : 1),
        parentBased: true,
      };
  }
}

/**
 * The trace-id-ratio decision: the low 56 bits of the trace id against the ratio, so every
 * service that sees the same trace id and ratio decides the same way.
 */
export function sampledByRatio(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  const low = Number.parseInt(traceId.slice(18, 32), 16); // 56 bits, exact in a double
  return low < ratio * 2 ** 56;
}
