import type { IncomingMessage, ServerResponse } from 'node:http';
import { type MasterExtension, masterExtensions } from '../server/extensions.ts';
import type { Master } from '../server/master/master.ts';
import { telemetryMaster } from '../telemetry/master/extension.ts';
import { DashboardApi } from './api.ts';
import { UiAssets } from './assets.ts';
import { ServiceHistory } from './history/history.ts';

/**
 * The service dashboard in the master of `peregrine serve`: its history is fed by the telemetry
 * hub's deltas (workers do no extra work), `/api/*` answers from it, the trace store and the
 * master's events, and `/dashboard` serves the built UI. Nothing runs on the public listener.
 */
export class DashboardMasterExtension implements MasterExtension {
  readonly name = 'dashboard';
  /** The history, once set up. */
  history: ServiceHistory | undefined;
  #timer: NodeJS.Timeout | undefined;

  setup(master: Master): void {
    const hub = telemetryMaster.hub;
    if (hub === undefined) return;
    const history = new ServiceHistory({ apdexThreshold: master.settings.apdexThreshold });
    this.history = history;
    hub.onDelta((worker, delta) => history.ingest(worker, delta));
    let shedBefore = master.stats().shed;
    let burst: { count: number; at: number } | undefined;
    // Once a second: shed requests and in-flight (the master's own counters), shed bursts into
    // the timeline, and workers gone for good out of the history.
    this.#timer = setInterval(() => {
      const now = Date.now();
      const stats = master.stats();
      const shed = Math.max(0, stats.shed - shedBefore);
      shedBefore = stats.shed;
      const inflight = stats.perWorker.reduce((n, w) => n + w.inflight, 0);
      history.sample(now, shed, inflight);
      history.prune(new Set(stats.perWorker.map((w) => String(w.id))), now);
      // A burst starts with its first shed second and ends after 5 quiet ones: two events.
      if (shed > 0) {
        if (burst === undefined) {
          burst = { count: 0, at: now };
          master.events.record('shed', `shedding load: ${shed} requests answered 503`, {
            level: 'warn',
            count: shed,
          });
        }
        burst.count += shed;
        burst.at = now;
      } else if (burst !== undefined && now - burst.at > 5000) {
        master.events.record(
          'shed',
          `shed burst over: ${burst.count} requests answered 503 in all`,
          { level: 'warn', count: burst.count },
        );
        burst = undefined;
      }
    }, 1000);
    this.#timer.unref();
    const api = new DashboardApi({
      history,
      traces: hub.traces,
      stats: () => master.stats(),
      apdexThreshold: master.settings.apdexThreshold,
      service: process.env.OTEL_SERVICE_NAME ?? 'peregrine service',
      now: () => Date.now(),
    });
    master.admin.route('GET', '/api/*', (_req: IncomingMessage, res: ServerResponse, url: URL) =>
      api.handle(res, url),
    );
    const ui = new UiAssets();
    if (ui.missing !== undefined) master.log.warn({}, ui.missing);
    const page = (req: IncomingMessage, res: ServerResponse, url: URL) => ui.serve(req, res, url);
    master.admin.route('GET', '/dashboard', page);
    master.admin.route('GET', '/dashboard/*', page);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** The dashboard extension of this process's `peregrine serve` master. */
export const dashboardMaster = new DashboardMasterExtension();
masterExtensions.push(dashboardMaster);
