import type { Worker as ClusterWorker } from 'node:cluster';
import type { BootError, Heartbeat } from '../ipc.ts';
import type { LoopClockReader } from '../loop-clock.ts';

/** Where a worker is in its life. */
export type WorkerState = 'booting' | 'ready' | 'draining' | 'stopping' | 'exited';

/** Why a worker is replaced while it still serves (its replacement is ready first). */
export type RetireReason = 'max-requests' | 'max-memory' | 'scale-down';

/** Why a worker was restarted, for the counters telemetry exports. */
export type RestartReason = 'crash' | 'watchdog' | 'boot-failure' | 'max-requests' | 'max-memory';

/** What the master knows about one worker. */
export interface WorkerRecord {
  /** Its id (unique for the master's lifetime; also `topology.workerId` in the worker). */
  readonly id: number;
  /** Its generation. */
  readonly generation: number;
  /** The cluster handle. */
  readonly process: ClusterWorker;
  /** The OS pid. */
  readonly pid: number;
  /** Its state. */
  state: WorkerState;
  /** When it was spawned (ms since epoch). */
  readonly spawnedAt: number;
  /** When it reported ready. */
  readyAt: number | undefined;
  /** When its last heartbeat arrived (undefined before the first). */
  lastBeatAt: number | undefined;
  /** The latest heartbeat. */
  heartbeat: Heartbeat | undefined;
  /** When its event loop last turned, as the worker records it (undefined: judged by heartbeats). */
  loopClock: LoopClockReader | undefined;
  /** How often the worker records a loop turn, ms (the watchdog's allowance for it). */
  turnMs: number;
  /** Set when it is to be replaced while serving. */
  retire: RetireReason | undefined;
  /** When its drain (or fast stop) began. */
  stopSince: number | undefined;
  /** How long it may take to stop before it is killed, ms. */
  stopGrace: number;
  /** When the master sent it SIGKILL. */
  killedAt: number | undefined;
  /** Why the master stopped or killed it (for the exit log line). */
  stopReason: string | undefined;
  /** Whether its exit is expected (the master asked it to stop or killed it). */
  expectExit: boolean;
  /** Why it could not boot, if it said so. */
  bootError: BootError | undefined;
  /** Where it listens, once ready. */
  addresses: string[];
}

/** Whether a worker is alive and not on its way out. */
export function isServing(w: WorkerRecord): boolean {
  return w.state === 'booting' || w.state === 'ready';
}

/** Whether a worker process is still running. */
export function isAlive(w: WorkerRecord): boolean {
  return w.state !== 'exited';
}
