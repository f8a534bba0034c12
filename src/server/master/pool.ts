import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isEnvelope, isTyped, type MasterMessages } from '../ipc.ts';
import { createLoopClock, LoopClockReader, turnInterval } from '../loop-clock.ts';
import type { ServerSettings } from '../settings/all.ts';
import type { Address } from '../settings/setting.ts';
import { WORKER_CONFIG_ENV, type WorkerConfig } from '../worker/config.ts';
import type { CapturedStack } from '../worker/watchdog.ts';
import type { MasterStatsBook } from './stats.ts';
import { isAlive, type RetireReason, type WorkerRecord } from './worker-table.ts';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { readFileSync, rmSync } = process.getBuiltinModule('node:fs');

/** What a worker process reports, as the pool hands it to the master's queue. */
export type WorkerEvent =
  | { kind: 'message'; worker: WorkerRecord; type: string; data: unknown }
  | { kind: 'exit'; worker: WorkerRecord; code: number | null; signal: string | null };

/** What the pool needs from the master. */
export interface PoolContext {
  /** The settings in effect now (a reload may change them). */
  settings(): ServerSettings;
  /** The master's logger. */
  readonly log: Logger;
  /** The counters. */
  readonly book: MasterStatsBook;
  /** `MODULE[:EXPORT]`. */
  readonly app: string;
  /** Modules every worker imports before the App (worker sides of extensions). */
  readonly modules: readonly string[];
  /** Where relative module paths resolve. */
  readonly cwd: string;
  /** The log format workers use. */
  readonly logFormat: 'json' | 'pretty';
  /** Where workers listen (ports resolved). */
  listen(): Address[];
  /** Whether the master holds the listening sockets and hands connections over. */
  external(): boolean;
  /** Where watchdog threads leave captured stacks (undefined: no capture). */
  stackDir(): string | undefined;
  /** The master's scratch directory (workers' loop clocks); undefined if it could not be made. */
  runDir(): string | undefined;
  /** Hands a worker event to the master's queue (the only thing the handlers do). */
  enqueue(event: WorkerEvent): void;
  /** Starts a worker process (default: `cluster.fork`); unit tests start none. */
  fork?(env: NodeJS.ProcessEnv): ClusterWorker;
  /** The clock, ms since epoch (default: `Date.now`). */
  now?(): number;
}

/** Heartbeat interval for a watchdog timeout: a quarter of it, between 0.1 and 1 s. */
export function heartbeatInterval(timeoutSeconds: number): number {
  return Math.max(100, Math.min(1000, timeoutSeconds * 250));
}

/**
 * A random (version 4) UUID from the kernel's generator. PERF: not node:crypto's randomUUID,
 * whose loading initialises OpenSSL in the master (~3 MiB RSS) for one id; node:crypto only
 * where there is no /dev/urandom.
 */
export function randomUuid(): string {
  const { openSync, readSync, closeSync } = process.getBuiltinModule('node:fs');
  const b = Buffer.alloc(16);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, b, 0, 16, null) !== 16) throw new Error('short read');
    } finally {
      closeSync(fd);
    }
  } catch {
    return process.getBuiltinModule('node:crypto').randomUUID();
  }
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The worker processes: spawning them, talking to them, stopping and killing them, and the
 * watchdog over their heartbeats. Decisions about how many there should be are the master's.
 */
export class WorkerPool {
  /** Identifies the node to its workers, for the node bus (src/process/node-bus.ts). */
  readonly nodeId = randomUuid();
  readonly #ctx: PoolContext;
  readonly #now: () => number;
  readonly #workers = new Map<number, WorkerRecord>();
  #lastId = 0;
  #lastTopology = 0;

  constructor(context: PoolContext) {
    this.#ctx = context;
    this.#now = context.now ?? Date.now;
  }

  /** Live workers (not yet reaped). */
  all(): WorkerRecord[] {
    return [...this.#workers.values()];
  }

  /** A worker by id. */
  get(id: number): WorkerRecord | undefined {
    return this.#workers.get(id);
  }

  /** How many workers are not reaped yet. */
  get size(): number {
    return this.#workers.size;
  }

  /** Forgets a worker that exited. */
  reap(w: WorkerRecord): void {
    w.state = 'exited';
    this.#workers.delete(w.id);
    w.loopClock?.close();
    w.loopClock = undefined;
    const dir = this.#ctx.runDir();
    if (dir !== undefined) rmSync(join(dir, `${w.id}.loop`), { force: true });
  }

  /** Opens a new worker's loop clock (undefined if the file cannot be made: heartbeats judge). */
  #loopClock(id: number): { file: string; reader: LoopClockReader } | undefined {
    const dir = this.#ctx.runDir();
    if (dir === undefined) return undefined;
    const file = join(dir, `${id}.loop`);
    try {
      createLoopClock(file);
      return { file, reader: new LoopClockReader(file) };
    } catch (err) {
      this.#ctx.log.warn({ err, worker: id }, 'loop clock unavailable; judging by heartbeats');
      return undefined;
    }
  }

  /** Forks a worker of a generation. */
  spawn(generation: number): WorkerRecord {
    const s = this.#ctx.settings();
    const id = ++this.#lastId;
    const timeoutMs = s.timeout * 1000;
    const stackDir = this.#ctx.stackDir();
    const clock = this.#loopClock(id);
    const turnMs = turnInterval(s.timeout);
    const config: WorkerConfig = {
      id,
      generation,
      workerCount: this.#workers.size + 1,
      app: this.#ctx.app,
      modules: [...this.#ctx.modules],
      cwd: this.#ctx.cwd,
      nodeId: this.nodeId,
      settings: s,
      listen: this.#ctx.listen(),
      external: this.#ctx.external(),
      logFormat: this.#ctx.logFormat,
      maxRequests:
        s.maxRequests > 0
          ? s.maxRequests +
            (s.maxRequestsJitter > 0 ? Math.floor(Math.random() * (s.maxRequestsJitter + 1)) : 0)
          : 0,
      heartbeatMs: heartbeatInterval(s.timeout),
      loopClockFile: clock?.file ?? null,
      turnMs,
      stackFile: stackDir === undefined ? null : join(stackDir, `${id}.json`),
      stackAfterMs: Math.max(timeoutMs / 2, timeoutMs - 1000),
    };
    const env = { [WORKER_CONFIG_ENV]: JSON.stringify(config) };
    const child = this.#ctx.fork?.(env) ?? cluster.fork(env);
    const w: WorkerRecord = {
      id,
      generation,
      process: child,
      pid: child.process.pid ?? 0,
      state: 'booting',
      spawnedAt: this.#now(),
      readyAt: undefined,
      lastBeatAt: undefined,
      heartbeat: undefined,
      loopClock: clock?.reader,
      turnMs,
      retire: undefined,
      stopSince: undefined,
      stopGrace: 0,
      stopReason: undefined,
      killedAt: undefined,
      expectExit: false,
      bootError: undefined,
      addresses: [],
    };
    child.on('message', (message: unknown) => {
      if (isEnvelope(message)) {
        this.#ctx.enqueue({ kind: 'message', worker: w, type: message.type, data: message.data });
      } else if (isTyped(message)) {
        // A part that sends `{ type, ...fields }` (telemetry's delta) gets the whole message.
        this.#ctx.enqueue({ kind: 'message', worker: w, type: message.type, data: message });
      }
    });
    child.on('exit', (code: number | null, signal: string | null) => {
      this.#ctx.enqueue({ kind: 'exit', worker: w, code, signal });
    });
    // Sends to a worker that just died fail here; its exit event tells the rest.
    child.on('error', () => {});
    this.#workers.set(id, w);
    this.#ctx.book.spawned();
    this.#ctx.log.info({ worker: id, workerPid: w.pid, generation }, 'worker spawned');
    return w;
  }

  /** Sends a message to one worker (ignored if it is gone). */
  send<K extends keyof MasterMessages>(
    worker: WorkerRecord | number,
    type: K,
    data: MasterMessages[K],
  ): void {
    const w = typeof worker === 'number' ? this.#workers.get(worker) : worker;
    if (w === undefined || w.state === 'exited' || !w.process.isConnected()) return;
    w.process.send({ type, data }, undefined, {}, () => {});
  }

  /** Hands a connection the master accepted to a worker (the socket stays open here too). */
  sendConnection(
    workerId: number,
    message: MasterMessages['connection'],
    socket: Socket,
    done: (error: Error | null) => void,
  ): void {
    const w = this.#workers.get(workerId);
    if (w === undefined || w.state === 'exited' || !w.process.isConnected()) {
      done(new Error(`worker ${workerId} is gone`));
      return;
    }
    w.process.send({ type: 'connection', data: message }, socket, { keepOpen: true }, (error) =>
      done(error ?? null),
    );
  }

  /** Sends a message to every live worker. */
  broadcast<K extends keyof MasterMessages>(type: K, data: MasterMessages[K]): void {
    for (const w of this.#workers.values()) this.send(w, type, data);
  }

  /** Marks a worker as on its way out, with the time it has before it is killed. */
  markStopping(
    w: WorkerRecord,
    state: 'draining' | 'stopping',
    reason: string,
    graceMs: number,
  ): void {
    w.state = state;
    w.stopSince = this.#now();
    w.stopGrace = graceMs;
    w.stopReason = reason;
    w.expectExit = true;
  }

  /** Asks a worker to drain: stop accepting, finish in-flight requests, exit. */
  drain(w: WorkerRecord, reason: string): void {
    const grace = this.#ctx.settings().gracefulTimeout * 1000;
    this.markStopping(w, 'draining', reason, grace);
    this.send(w, 'drain', { gracefulTimeout: grace });
    this.#ctx.log.info(
      { worker: w.id, workerPid: w.pid, generation: w.generation, reason },
      'draining worker',
    );
  }

  /** Asks a worker to stop at once (connections dropped); killed after `graceMs`. */
  quit(w: WorkerRecord, reason: string, graceMs: number): void {
    this.markStopping(w, 'stopping', reason, graceMs);
    this.send(w, 'quit', {});
  }

  /** Marks a serving worker for replacement; the master drains it once its replacement is ready. */
  retire(w: WorkerRecord, reason: RetireReason, fields: Record<string, unknown> = {}): void {
    w.retire = reason;
    if (reason !== 'scale-down') this.#ctx.book.restart(reason);
    this.#ctx.log.info(
      { worker: w.id, workerPid: w.pid, reason, ...fields },
      reason === 'scale-down'
        ? `worker ${w.id} retires (scale-down)`
        : `worker ${w.id} will be replaced (${reason}) once its replacement is ready`,
    );
  }

  /** Sends SIGKILL. */
  kill(w: WorkerRecord): void {
    if (w.state !== 'draining') w.state = 'stopping';
    w.killedAt = this.#now();
    // Through the child's handle, not the pid: a child already gone is a no-op (its exit event is
    // on its way), and a reused pid is never hit.
    w.process.process.kill('SIGKILL');
  }

  /**
   * The watchdog: kills workers silent longer than `--timeout` (logging the stack their watchdog
   * thread captured), workers not ready within `--startup-timeout`, and workers that overstay
   * their stop grace.
   */
  watch(now: number): void {
    const s = this.#ctx.settings();
    const log = this.#ctx.log;
    for (const w of this.#workers.values()) {
      if (w.state === 'exited' || w.killedAt !== undefined) continue;
      if (w.state === 'booting' && now - w.spawnedAt > s.startupTimeout * 1000) {
        w.bootError ??= {
          phase: 'startup',
          message: `not ready within --startup-timeout ${s.startupTimeout}s`,
        };
        this.kill(w);
        continue;
      }
      const silentMs = this.#silence(w, now);
      if (silentMs > s.timeout * 1000) {
        const stack = this.#takeStack(w);
        log.error(
          {
            worker: w.id,
            workerPid: w.pid,
            generation: w.generation,
            silentMs,
            stack: stack?.frames,
          },
          `watchdog: worker ${w.id} (pid ${w.pid}): event loop blocked for ${silentMs} ms; killing it`,
        );
        if (w.state === 'booting') {
          // Blocked while booting: a boot failure, so a module that always blocks cannot loop.
          w.bootError ??= { phase: 'startup', message: `event loop blocked for ${silentMs} ms` };
        } else {
          if (w.state === 'ready') this.#ctx.book.restart('watchdog');
          w.expectExit = true;
          w.stopReason ??= 'watchdog';
        }
        this.kill(w);
        continue;
      }
      if (w.stopSince !== undefined && now - w.stopSince > w.stopGrace) {
        log.warn(
          { worker: w.id, workerPid: w.pid, graceMs: w.stopGrace },
          `worker ${w.id} did not stop in time; killing it`,
        );
        this.kill(w);
      }
    }
  }

  /**
   * How long a worker's event loop has certainly not turned, ms. The worker records a turn every
   * `turnMs` while its loop runs, so a loop last recorded at `at` may have turned until
   * `at + turnMs`: that allowance is taken off, so a block is never judged longer than it is.
   * Without a loop clock (its file could not be made) the last heartbeat's arrival stands in,
   * less one heartbeat interval — still never early for a block, though IPC delay may add to it.
   */
  #silence(w: WorkerRecord, now: number): number {
    if (w.loopClock !== undefined) {
      const at = w.loopClock.read(now);
      return at === undefined ? 0 : Math.max(0, Math.round(now - at - w.turnMs));
    }
    if (w.lastBeatAt === undefined) return 0;
    return Math.max(0, now - w.lastBeatAt - heartbeatInterval(this.#ctx.settings().timeout));
  }

  #takeStack(w: WorkerRecord): CapturedStack | undefined {
    const dir = this.#ctx.stackDir();
    if (dir === undefined) return undefined;
    const file = join(dir, `${w.id}.json`);
    try {
      const stack = JSON.parse(readFileSync(file, 'utf8')) as CapturedStack;
      rmSync(file, { force: true });
      return stack;
    } catch {
      return undefined;
    }
  }

  /** Tells every worker how many are alive, when that changed (budgets divided among workers). */
  shareTopology(): void {
    const count = this.all().filter(isAlive).length;
    if (count === this.#lastTopology || count === 0) return;
    this.#lastTopology = count;
    this.broadcast('topology', { workerCount: count });
  }
}
