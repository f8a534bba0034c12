import {
  type EventLoopUtilization,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import type { MetricRegistry } from '../metrics/registry.ts';

const GC_KINDS: Record<number, string> = {
  1: 'scavenge',
  2: 'mark_sweep_compact',
  4: 'incremental',
  8: 'weakcb',
  15: 'all',
};

/** GC pause buckets in seconds: pauses are sub-millisecond to tens of milliseconds. */
const GC_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Samples the runtime of this worker once per flush: event-loop utilisation, event-loop delay
 * (p50, p99, max over the interval), GC pauses by kind, heap, RSS and CPU. The gauges are kept
 * per worker in the master (`worker` label); GC and CPU are counters summed over workers too.
 */
export class RuntimeSampler {
  readonly #delay: ReturnType<typeof monitorEventLoopDelay>;
  #elu: EventLoopUtilization;
  #cpu: NodeJS.CpuUsage;
  readonly #gcObserver: PerformanceObserver;

  constructor(registry: MetricRegistry) {
    const perWorker = { merge: 'worker' as const };
    const elu = registry.gauge({
      name: 'nodejs_eventloop_utilization',
      help: 'Fraction of time the event loop was busy over the last interval.',
      unit: 'ratio',
      ...perWorker,
    });
    const delayGauge = (stat: string, what: string) =>
      registry.gauge({
        name: `nodejs_eventloop_delay_${stat}_seconds`,
        help: `Event-loop delay over the last interval: ${what}.`,
        unit: 'seconds',
        ...perWorker,
      });
    const p50 = delayGauge('p50', 'median');
    const p99 = delayGauge('p99', '99th percentile');
    const max = delayGauge('max', 'maximum');
    const heapUsed = registry.gauge({
      name: 'nodejs_heap_used_bytes',
      help: 'V8 heap in use.',
      unit: 'bytes',
      ...perWorker,
    });
    const heapTotal = registry.gauge({
      name: 'nodejs_heap_total_bytes',
      help: 'V8 heap reserved.',
      unit: 'bytes',
      ...perWorker,
    });
    const external = registry.gauge({
      name: 'nodejs_external_memory_bytes',
      help: 'Memory of C++ objects bound to JavaScript (buffers included).',
      unit: 'bytes',
      ...perWorker,
    });
    const rss = registry.gauge({
      name: 'process_resident_memory_bytes',
      help: 'Resident set size.',
      unit: 'bytes',
      ...perWorker,
    });
    const cpu = registry.counter({
      name: 'process_cpu_seconds',
      help: 'CPU time spent, by mode.',
      unit: 'seconds',
      labels: ['mode'],
    });
    const gc = registry.histogram({
      name: 'nodejs_gc_duration_seconds',
      help: 'Garbage collection pauses, by kind.',
      unit: 'seconds',
      labels: ['kind'],
      buckets: GC_BUCKETS,
    });
    const user = cpu.labels(['user']);
    const system = cpu.labels(['system']);
    const gcByKind = new Map<number, ReturnType<typeof gc.labels>>();

    this.#delay = monitorEventLoopDelay({ resolution: 10 });
    this.#delay.enable();
    this.#elu = performance.eventLoopUtilization();
    this.#cpu = process.cpuUsage();
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind =
          ((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind ?? 0;
        let series = gcByKind.get(kind);
        if (series === undefined) {
          series = gc.labels([GC_KINDS[kind] ?? `kind_${kind}`]);
          gcByKind.set(kind, series);
        }
        series.observe(entry.duration / 1000);
      }
    });
    this.#gcObserver.observe({ entryTypes: ['gc'] });

    registry.beforeCollect(() => {
      const now = performance.eventLoopUtilization();
      elu.set([], performance.eventLoopUtilization(now, this.#elu).utilization);
      this.#elu = now;
      const h = this.#delay;
      if (h.count > 0) {
        p50.set([], h.percentile(50) / 1e9);
        p99.set([], h.percentile(99) / 1e9);
        max.set([], h.max / 1e9);
      }
      h.reset();
      const mem = process.memoryUsage();
      heapUsed.set([], mem.heapUsed);
      heapTotal.set([], mem.heapTotal);
      external.set([], mem.external);
      rss.set([], mem.rss);
      const c = process.cpuUsage();
      user.inc((c.user - this.#cpu.user) / 1e6);
      system.inc((c.system - this.#cpu.system) / 1e6);
      this.#cpu = c;
    });
  }

  /** Stops sampling. */
  stop(): void {
    this.#delay.disable();
    this.#gcObserver.disconnect();
  }
}
