import type { Logger } from 'pino';
import type { MasterEvents } from './events.ts';

/** Fields worth keeping from a log line (stacks and error objects are for the log). */
const KEPT = [
  'worker',
  'workerPid',
  'generation',
  'reason',
  'code',
  'signal',
  'uptimeMs',
  'silentMs',
  'error',
  'ms',
  'rssMiB',
  'requests',
] as const;

/**
 * The event type of a master log line, or undefined for lines that are no event of the timeline
 * (autoscaling and TTIN/TTOU record their own events; start-up chatter is left out).
 */
export function eventTypeOf(message: string): string | undefined {
  const m = message.toLowerCase();
  if (m.startsWith('autoscale') || m.startsWith('ttin') || m.startsWith('ttou')) return undefined;
  if (m.includes('watchdog')) return 'watchdog';
  if (m.includes('reload')) return 'reload';
  if (m.includes('died unexpectedly') || m.includes('uncaught exception')) return 'crash';
  if (m.includes('failed to boot') || m.includes('no worker can start')) return 'boot-failure';
  if (m.includes('will be replaced') || m.includes('recycled')) return 'recycle';
  if (m.includes('did not stop in time')) return 'kill';
  if (m.startsWith('worker ') || m.startsWith('draining worker')) return 'lifecycle';
  if (m.includes('stop')) return 'stop';
  return undefined;
}

const JOURNALED = new Set(['info', 'warn', 'error', 'fatal']);

/**
 * The master's logger, with every line at info and above that tells of a worker's life (spawn,
 * ready, drain, exit and why, crash, watchdog kill, recycle, boot failure), a reload or a stop
 * also recorded in `events` — whatever `--log-level` writes. A proxy rather than a pino hook:
 * hooks see only the levels enabled, and the timeline wants them all.
 */
export function journaled(logger: Logger, events: MasterEvents): Logger {
  return new Proxy(logger, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !JOURNALED.has(prop) || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (first: unknown, ...rest: unknown[]) => {
        try {
          const fields = (typeof first === 'object' && first !== null ? first : {}) as Record<
            string,
            unknown
          >;
          const message = typeof first === 'string' ? first : rest[0];
          const type = typeof message === 'string' ? eventTypeOf(message) : undefined;
          if (type !== undefined) {
            const kept: Record<string, unknown> = { level: prop };
            for (const k of KEPT) {
              const v = fields[k];
              if (v === undefined) continue;
              kept[k] = typeof v === 'string' ? v.slice(0, 500) : v;
            }
            events.record(type, (message as string).slice(0, 1000), kept);
          }
        } catch {
          // the timeline must never break logging
        }
        return (value as (...args: unknown[]) => void).apply(target, [first, ...rest]);
      };
    },
  });
}
