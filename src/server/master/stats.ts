import type { RestartReason, WorkerRecord, WorkerState } from './worker-table.ts';

/** One worker as the stats show it. */
export interface WorkerSnapshot {
  id: number;
  pid: number;
  generation: number;
  state: WorkerState;
  /** Set when it is to be replaced while serving. */
  retiring: string | null;
  spawnedAt: number;
  readyAt: number | null;
  /** Latest heartbeat figures (0 before the first). */
  rss: number;
  requests: number;
  connections: number;
  inflight: number;
  lagMs: number;
}

/**
 * The process model in numbers: what telemetry exports as `peregrine_*` metrics. Counters are
 * cumulative over the master's life; request counters include workers that already exited.
 */
export interface MasterStats {
  /** The master's state. */
  state: string;
  /** The serving generation. */
  generation: number;
  /** How many workers the master keeps. */
  target: number;
  /** When the master started (ms since epoch). */
  startedAt: number;
  /** Live workers by state. */
  workers: Record<'booting' | 'ready' | 'draining' | 'stopping', number>;
  /** Worker restarts by reason. */
  restarts: Record<RestartReason, number>;
  /** Reloads (`HUP`) by outcome. */
  reloads: { started: number; succeeded: number; failed: number };
  /** `--workers auto` decisions: workers added, retired, and holds (wanted more, could not). */
  scaling: { up: number; down: number; hold: number };
  /** Workers spawned. */
  spawned: number;
  /** Requests read by all workers. */
  requests: number;
  /** Requests shed because an event loop lagged. */
  shed: number;
  /** Requests refused because a connection was over the cap. */
  overCap: number;
  /** Requests whose deadline passed. */
  deadlines: number;
  /** Every live worker. */
  perWorker: WorkerSnapshot[];
  /**
   * Connections the master accepted: waiting for a ready worker, sent and not yet confirmed, and
   * handed over in total (null with --reuse-port, where workers accept their own).
   */
  handoff: { waiting: number; inFlight: number; handedOver: number; shed: number } | null;
}

type Totals = Pick<MasterStats, 'requests' | 'shed' | 'overCap' | 'deadlines'>;

/** Keeps the master's counters; `snapshot` adds the live workers' latest heartbeats. */
export class MasterStatsBook {
  readonly #restarts: Record<RestartReason, number> = {
    crash: 0,
    watchdog: 0,
    'boot-failure': 0,
    'max-requests': 0,
    'max-memory': 0,
  };
  readonly #reloads = { started: 0, succeeded: 0, failed: 0 };
  readonly #scaling = { up: 0, down: 0, hold: 0 };
  #spawned = 0;
  readonly #reaped: Totals = { requests: 0, shed: 0, overCap: 0, deadlines: 0 };

  /** Counts a restart. */
  restart(reason: RestartReason): void {
    this.#restarts[reason]++;
  }

  /** Counts a reload event. */
  reload(outcome: keyof MasterStats['reloads']): void {
    this.#reloads[outcome]++;
  }

  /** Counts an autoscaling decision. */
  scaled(action: keyof MasterStats['scaling']): void {
    this.#scaling[action]++;
  }

  /** Counts a spawn. */
  spawned(): void {
    this.#spawned++;
  }

  /** Folds the last counters of a worker that exited into the totals. */
  reap(w: WorkerRecord): void {
    const h = w.heartbeat;
    if (h === undefined) return;
    this.#reaped.requests += h.requests;
    this.#reaped.shed += h.shed;
    this.#reaped.overCap += h.overCap;
    this.#reaped.deadlines += h.deadlines;
  }

  /** The stats now. */
  snapshot(live: {
    state: string;
    generation: number;
    target: number;
    startedAt: number;
    workers: readonly WorkerRecord[];
    handoff: MasterStats['handoff'];
  }): MasterStats {
    const workers = { booting: 0, ready: 0, draining: 0, stopping: 0 };
    const totals: Totals = { ...this.#reaped };
    const perWorker: WorkerSnapshot[] = [];
    for (const w of live.workers) {
      if (w.state === 'exited') continue;
      workers[w.state]++;
      const h = w.heartbeat;
      if (h !== undefined) {
        totals.requests += h.requests;
        totals.shed += h.shed;
        totals.overCap += h.overCap;
        totals.deadlines += h.deadlines;
      }
      perWorker.push({
        id: w.id,
        pid: w.pid,
        generation: w.generation,
        state: w.state,
        retiring: w.retire ?? null,
        spawnedAt: w.spawnedAt,
        readyAt: w.readyAt ?? null,
        rss: h?.rss ?? 0,
        requests: h?.requests ?? 0,
        connections: h?.connections ?? 0,
        inflight: h?.inflight ?? 0,
        lagMs: h?.lagMs ?? 0,
      });
    }
    return {
      state: live.state,
      generation: live.generation,
      target: live.target,
      startedAt: live.startedAt,
      workers,
      restarts: { ...this.#restarts },
      reloads: { ...this.#reloads },
      scaling: { ...this.#scaling },
      spawned: this.#spawned,
      ...totals,
      perWorker,
      handoff: live.handoff,
    };
  }
}
