import type { IncomingMessage, ServerResponse } from 'node:http';
import { type MasterExtension, masterExtensions } from '../../server/extensions.ts';
import type { Master } from '../../server/master/master.ts';
import type { MasterStats } from '../../server/master/stats.ts';
import type { Counter, Gauge } from '../metrics/instruments.ts';
import type { MetricRegistry } from '../metrics/registry.ts';
import { TelemetryHub } from './hub.ts';

/**
 * The process model as metrics: workers by state, restarts by reason, reloads, spawns, shed and
 * over-cap requests, read from `master.stats()` whenever metrics are collected.
 */
class ProcessModelMetrics {
  readonly #workers: Gauge;
  readonly #target: Gauge;
  readonly #generation: Gauge;
  readonly #restarts: Counter;
  readonly #reloads: Counter;
  readonly #spawned: Counter;
  readonly #shed: Counter;
  readonly #overCap: Counter;
  readonly #scaling: Counter;
  readonly #previous = new Map<string, number>();

  constructor(registry: MetricRegistry) {
    this.#workers = registry.gauge({
      name: 'peregrine_workers',
      help: 'Live workers by state.',
      labels: ['state'],
    });
    this.#target = registry.gauge({
      name: 'peregrine_workers_target',
      help: 'Workers the master keeps (--workers, TTIN/TTOU, or --workers auto).',
    });
    this.#generation = registry.gauge({
      name: 'peregrine_generation',
      help: 'The serving generation of workers (a reload starts a new one).',
    });
    this.#restarts = registry.counter({
      name: 'peregrine_worker_restarts',
      help: 'Workers replaced, by reason.',
      labels: ['reason'],
    });
    this.#reloads = registry.counter({
      name: 'peregrine_reloads',
      help: 'Reloads (HUP) by outcome: started, succeeded, failed.',
      labels: ['outcome'],
    });
    this.#spawned = registry.counter({
      name: 'peregrine_workers_spawned',
      help: 'Worker processes started.',
    });
    this.#shed = registry.counter({
      name: 'peregrine_shed_requests',
      help: 'Requests answered 503 at once because a worker event loop was overloaded.',
    });
    this.#overCap = registry.counter({
      name: 'peregrine_over_cap_requests',
      help: 'Requests refused because their connection was over the per-worker cap.',
    });
    this.#scaling = registry.counter({
      name: 'peregrine_autoscale_decisions',
      help: '--workers auto decisions: up (workers added), down (one retired), hold (busy but at the maximum or out of CPU).',
      labels: ['action'],
    });
  }

  #grow(counter: Counter, labels: string[], value: number): void {
    const key = `${counter.meta.name}:${labels.join(',')}`;
    const before = this.#previous.get(key) ?? 0;
    this.#previous.set(key, value);
    if (value > before) counter.inc(labels, value - before);
  }

  update(stats: MasterStats): void {
    for (const [state, n] of Object.entries(stats.workers)) this.#workers.set([state], n);
    this.#target.set([], stats.target);
    this.#generation.set([], stats.generation);
    for (const [reason, n] of Object.entries(stats.restarts))
      this.#grow(this.#restarts, [reason], n);
    this.#grow(this.#reloads, ['started'], stats.reloads.started);
    this.#grow(this.#reloads, ['succeeded'], stats.reloads.succeeded);
    this.#grow(this.#reloads, ['failed'], stats.reloads.failed);
    this.#grow(this.#spawned, [], stats.spawned);
    this.#grow(this.#shed, [], stats.shed);
    this.#grow(this.#overCap, [], stats.overCap);
    for (const [action, n] of Object.entries(stats.scaling)) this.#grow(this.#scaling, [action], n);
  }
}

/**
 * Telemetry in the master of `peregrine serve`: merges the workers' deltas in a TelemetryHub,
 * serves `GET /metrics` on the admin listener from memory, exports kept spans over OTLP, and
 * adds the process model. Its worker side (../worker/extension.ts) connects each worker's recorder.
 */
export class TelemetryMasterExtension implements MasterExtension {
  readonly name = 'telemetry';
  readonly workerModule = new URL(
    `../worker/extension${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
    import.meta.url,
  ).href;
  /** The hub, once set up. */
  hub: TelemetryHub | undefined;
  readonly #seen = new Set<string>();

  setup(master: Master): void {
    const hub = new TelemetryHub({ log: master.log.child({ part: 'otlp-export' }) });
    this.hub = hub;
    const model = new ProcessModelMetrics(hub.registry);
    hub.registry.beforeCollect(() => {
      const stats = master.stats();
      model.update(stats);
      this.#forgetExited(stats);
    });
    master.messages.on('telemetry-delta', (delta, worker) => {
      const id = String(worker.id);
      this.#seen.add(id);
      hub.ingest(id, delta);
    });
    master.admin.route('GET', '/metrics', (req: IncomingMessage, res: ServerResponse) => {
      const scrape = hub.scrape(req.headers.accept);
      res.writeHead(200, {
        'content-type': scrape.contentType,
        'content-length': Buffer.byteLength(scrape.body),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : scrape.body);
    });
  }

  /** Drops the per-worker series of workers that are gone (their counters stay in the sums). */
  #forgetExited(stats: MasterStats): void {
    if (this.#seen.size === 0) return;
    const live = new Set(stats.perWorker.map((w) => String(w.id)));
    for (const id of this.#seen) {
      if (live.has(id)) continue;
      this.#seen.delete(id);
      this.hub?.workerExited(id);
    }
  }

  async close(): Promise<void> {
    await this.hub?.close();
  }
}

/** The telemetry extension of this process's `peregrine serve` master. */
export const telemetryMaster = new TelemetryMasterExtension();
masterExtensions.push(telemetryMaster);
