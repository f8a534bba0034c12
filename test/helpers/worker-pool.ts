import type { Worker as ClusterWorker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { WorkerPool } from '../../src/server/master/pool.ts';
import { RestartPolicy } from '../../src/server/master/restart-policy.ts';
import { MasterStatsBook } from '../../src/server/master/stats.ts';
import type { WorkerRecord } from '../../src/server/master/worker-table.ts';
import type { ServerSettings } from '../../src/server/settings/all.ts';
import { type CliValues, resolveSettings } from '../../src/server/settings/resolve.ts';

/**
 * The part of a cluster worker the pool talks to, kept in memory: what the master sent it and
 * which signals it got. No process is started, so the master's decisions run in microseconds.
 */
class MemoryWorker extends EventEmitter {
  readonly sent: Array<{ type: string; data: unknown }> = [];
  readonly signals: string[] = [];
  readonly process: { pid: number; kill: (signal: string) => boolean };

  constructor(pid: number) {
    super();
    this.process = {
      pid,
      kill: (signal) => {
        this.signals.push(signal);
        return true;
      },
    };
  }

  isConnected(): boolean {
    return true;
  }

  send(message: { type: string; data: unknown }, _h: unknown, _o: unknown, done?: () => void) {
    this.sent.push(message);
    done?.();
    return true;
  }
}

/** A worker pool on an in-memory cluster and a hand-driven clock, with its master's helpers. */
export interface PoolRig {
  readonly pool: WorkerPool;
  readonly policy: RestartPolicy;
  readonly book: MasterStatsBook;
  readonly settings: ServerSettings;
  /** The clock the pool reads, ms. */
  now: number;
  /** What a worker was sent, by type. */
  sent(w: WorkerRecord, type?: string): unknown[];
  /** Signals a worker got. */
  signals(w: WorkerRecord): string[];
  /** Marks a worker ready, as the master does on its `ready` message. */
  ready(w: WorkerRecord): void;
  /** Workers by generation and state, sorted by id: `['1:ready', '2:booting']`. */
  states(): string[];
}

/** Builds a pool rig; `cli` holds setting values as on the command line. */
export async function poolRig(cli: CliValues = {}): Promise<PoolRig> {
  const { settings } = await resolveSettings({ env: {}, cli });
  const book = new MasterStatsBook();
  const memory = new Map<number, MemoryWorker>();
  let pid = 10_000;
  const rig: PoolRig = {
    now: 1_000_000,
    settings,
    book,
    policy: new RestartPolicy(),
    pool: new WorkerPool({
      settings: () => settings,
      log: pino({ level: 'silent' }),
      book,
      app: 'app.ts',
      modules: [],
      cwd: process.cwd(),
      logFormat: 'json',
      listen: () => [],
      external: () => true,
      stackDir: () => undefined,
      // No loop-clock files: the watchdog judges by heartbeats.
      runDir: () => undefined,
      enqueue: () => {},
      fork: () => {
        const w = new MemoryWorker(++pid);
        memory.set(pid, w);
        // The pool uses send, isConnected, on and process of a cluster worker: MemoryWorker has them.
        return w as unknown as ClusterWorker;
      },
      now: () => rig.now,
    }),
    sent: (w, type) =>
      memory
        .get(w.pid)!
        .sent.filter((m) => type === undefined || m.type === type)
        .map((m) => m.data),
    signals: (w) => memory.get(w.pid)!.signals,
    ready(w) {
      w.state = 'ready';
      w.readyAt = rig.now;
      w.lastBeatAt = rig.now;
      rig.policy.ready();
    },
    states: () =>
      rig.pool
        .all()
        .sort((a, b) => a.id - b.id)
        .map((w) => `${w.generation}:${w.state}`),
  };
  return rig;
}
