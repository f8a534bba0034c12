import cluster from 'node:cluster';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BindError } from '../bind-error.ts';
import { EXIT } from '../exit-codes.ts';
import type { MasterExtension } from '../extensions.ts';
import {
  type BootError,
  type MasterMessages,
  MessageRegistry,
  type WorkerMessages,
} from '../ipc.ts';
import type { ServerLog } from '../log.ts';
import { type ServerSettings, settingList } from '../settings/all.ts';
import { resolveSettings, type SettingsInput } from '../settings/resolve.ts';
import type { Address } from '../settings/setting.ts';
import { AdminServer, sendJSON } from './admin.ts';
import { type Autoscaler, autoscalerFor } from './autoscaler.ts';
import { keepNodeBudgets } from './budget-keeper.ts';
import { EventQueue } from './event-queue.ts';
import { MasterEvents } from './events.ts';
import { journaled } from './journal.ts';
import { Listeners } from './listeners.ts';
import { relayNodeMessages } from './node-relay.ts';
import { removePidFile, writePidFile } from './pid-file.ts';
import { type WorkerEvent, WorkerPool } from './pool.ts';
import { answerReadiness, type ReadinessAnswer, ReadinessProbes } from './readiness.ts';
import { type Plan, reconcile } from './reconcile.ts';
import { RestartPolicy } from './restart-policy.ts';
import { installSignals, type MasterSignal } from './signals.ts';
import { resolvePorts, workerEntry, workerExecArgv } from './spawn-options.ts';
import { type MasterStats, MasterStatsBook } from './stats.ts';
import type { WorkerRecord } from './worker-table.ts';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { mkdtempSync, rmSync } = process.getBuiltinModule('node:fs');

/** What the master needs to run. */
export interface MasterOptions {
  /** The resolved settings. */
  settings: ServerSettings;
  /** How they were resolved, so `HUP` can read the config file again. */
  input?: SettingsInput;
  /** `MODULE[:EXPORT]` — handed to workers, never imported here. */
  app: string;
  /** Where relative module paths resolve (default: the working directory). */
  cwd?: string;
  /** The master's log. */
  log: ServerLog;
  /** Parts that run in the master (telemetry's hub). */
  extensions?: readonly MasterExtension[];
}

/** Where the master is in its life. */
export type MasterState = 'starting' | 'running' | 'stopping' | 'stopped';

type MasterEvent =
  | WorkerEvent
  | { kind: 'signal'; signal: MasterSignal }
  | { kind: 'fatal'; error: unknown }
  | { kind: 'tick' };

/**
 * The arbiter: spawns, reaps, watches and replaces workers, reloads and stops them on signals,
 * and serves the admin endpoints. It never loads application code. Every signal, IPC message,
 * exit and timer tick becomes an event in one queue; one loop handles them in turn and then
 * reconciles the workers with what they should be (`#manage`).
 */
export class Master {
  /** The admin listener; other parts add routes with `admin.route(...)`. */
  readonly admin: AdminServer;
  /** Handlers of worker messages by type (built-in types are dispatched here too). */
  readonly messages = new MessageRegistry<WorkerMessages, WorkerRecord>();
  /** The master's logger (its lines at info and above are also events, below). */
  readonly log: Logger;
  /** The settings in effect (a reload may change those not marked master-only). */
  settings: ServerSettings;
  /** What the master did and saw, newest last (`GET /api/events`; the dashboard's timeline). */
  readonly events = new MasterEvents();
  readonly #options: MasterOptions;
  readonly #queue = new EventQueue<MasterEvent>();
  readonly #probes = new ReadinessProbes();
  readonly #book = new MasterStatsBook();
  readonly #policy = new RestartPolicy();
  readonly #pool: WorkerPool;
  readonly #startedAt = Date.now();
  #state: MasterState = 'starting';
  #lastGeneration = 1;
  readonly #plan: Plan;
  #exitCode: number = EXIT.OK;
  #listen: Address[] = [];
  /** The listening sockets (undefined with --reuse-port, where workers bind their own). */
  #listeners: Listeners | undefined;
  #listenersClosed = false;
  #accepting = '';
  /** Scratch files of this master: workers' loop clocks and captured stacks. */
  #runDir: string | undefined;
  /** With `--workers auto`: sizes the pool. */
  #scaler: Autoscaler | undefined;
  /** `--workers` as last read (a reload changes the count only when the setting changed). */
  #workersBefore: ServerSettings['workers'];

  constructor(options: MasterOptions) {
    this.#options = options;
    this.settings = options.settings;
    this.log = journaled(options.log.logger, this.events);
    this.#scaler = autoscalerFor(options.settings, this.log, this.events, (a) =>
      this.#book.scaled(a),
    );
    this.#workersBefore = options.settings.workers;
    this.#plan = {
      generation: 1,
      target: this.#scaler?.policy.bounds.min ?? (options.settings.workers as number),
      reload: undefined,
      reloadAgain: false,
      stop: undefined,
    };
    this.#pool = new WorkerPool({
      settings: () => this.settings,
      log: this.log,
      book: this.#book,
      app: options.app,
      modules: (options.extensions ?? []).flatMap((e) =>
        e.workerModule === undefined ? [] : [e.workerModule],
      ),
      cwd: options.cwd ?? process.cwd(),
      logFormat: options.log.format,
      listen: () => this.#listen,
      external: () => this.#listeners !== undefined,
      stackDir: () => (this.settings.watchdogStack ? this.#runDir : undefined),
      runDir: () => this.#runDir,
      enqueue: (event) => this.#queue.push(event),
    });
    relayNodeMessages(this);
    keepNodeBudgets(this);
    this.admin = new AdminServer(this.log);
    const token = options.settings.adminToken;
    if (token !== null) {
      const metrics = options.settings.adminProtectMetrics;
      this.admin.protect(
        token,
        (path) =>
          path === '/dashboard' ||
          path.startsWith('/dashboard/') ||
          path.startsWith('/api/') ||
          (metrics && path === '/metrics'),
      );
    }
    this.admin.route('GET', '/healthz', (_req, res) => sendJSON(res, 200, this.#health()));
    this.admin.route('GET', '/readyz', async (_req, res) => {
      const { status, body } = await this.readiness();
      sendJSON(res, status, body);
    });
    // The recent events (autoscaling decisions and TTIN/TTOU) as JSON, oldest first;
    // `?since=SEQ` returns only newer ones, so a page can poll it.
    this.admin.route('GET', '/api/events', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://admin');
      const since = Math.max(0, Number(url.searchParams.get('since')) || 0);
      const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit')) || 1000));
      sendJSON(res, 200, { events: this.events.list(since, limit) });
    });
  }

  /** Where the master is in its life. */
  get state(): MasterState {
    return this.#state;
  }

  /** How many workers the master keeps (changed by `TTIN`/`TTOU` and reloads). */
  get target(): number {
    return this.#plan.target;
  }

  /** The workers not yet reaped, in any state. */
  workers(): readonly WorkerRecord[] {
    return this.#pool.all();
  }

  /** Counters and state of the process model (telemetry exports these). */
  stats(): MasterStats {
    return this.#book.snapshot({
      state: this.#state,
      generation: this.#plan.generation,
      target: this.#plan.target,
      workers: this.#pool.all(),
      startedAt: this.#startedAt,
      handoff: this.#listeners?.counts ?? null,
    });
  }

  /** Sends a message to one worker (ignored if it is gone). */
  send<K extends keyof MasterMessages>(
    worker: WorkerRecord | number,
    type: K,
    data: MasterMessages[K],
  ): void {
    this.#pool.send(worker, type, data);
  }

  /** Sends a message to every live worker. */
  broadcast<K extends keyof MasterMessages>(type: K, data: MasterMessages[K]): void {
    this.#pool.broadcast(type, data);
  }

  /** The `/readyz` answer: 200 only while running with ready workers whose checks pass. */
  async readiness(): Promise<ReadinessAnswer> {
    return answerReadiness({
      state: () => this.#state,
      target: this.#plan.target,
      ready: () => this.#pool.all().filter((w) => w.state === 'ready'),
      probes: this.#probes,
      send: (workerId, probe) => this.#pool.send(workerId, 'readiness-probe', probe),
    });
  }

  #health(): Record<string, unknown> {
    const s = this.stats();
    return {
      status: 'ok',
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      state: s.state,
      generation: s.generation,
      workers: {
        ...s.workers,
        target: s.target,
        ...(this.#scaler === undefined ? {} : { autoscale: this.#scaler.policy.bounds }),
      },
      ...(s.handoff === null
        ? {}
        : {
            connections: {
              waiting: s.handoff.waiting,
              inFlight: s.handoff.inFlight,
              shed: s.handoff.shed,
            },
          }),
    };
  }

  /** Runs until stopped; resolves to the exit code. */
  async run(): Promise<number> {
    const uninstall = installSignals((signal) => this.#queue.push({ kind: 'signal', signal }));
    const onFatal = (error: unknown) => this.#queue.push({ kind: 'fatal', error });
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
    let ticker: NodeJS.Timeout | undefined;
    try {
      try {
        await this.#prepare();
      } catch (err) {
        if (err instanceof BindError) {
          // The message names the listener, the address, why, and the flag that moves it.
          this.#exitCode = EXIT.BIND_ERROR;
          this.log.error({ exitCode: this.#exitCode, address: err.address }, err.message);
        } else {
          this.#exitCode = EXIT.BOOT_ERROR;
          this.log.error({ err }, `master failed to start: ${(err as Error).message}`);
        }
        return this.#exitCode;
      }
      this.#state = 'running';
      // The watchdog judges on every tick: a twentieth of --timeout (25 to 250 ms), so a worker
      // blocked past it is killed within a few percent of it.
      const tick = Math.max(25, Math.min(250, (this.settings.timeout * 1000) / 20));
      ticker = setInterval(() => this.#queue.push({ kind: 'tick' }), tick);
      this.#manage();
      while (this.state !== 'stopped') {
        const event = await this.#queue.take();
        try {
          await this.#handle(event);
          this.#manage();
        } catch (err) {
          this.log.error({ err }, 'master loop error');
        }
      }
      return this.#exitCode;
    } finally {
      clearInterval(ticker);
      uninstall();
      process.removeListener('uncaughtException', onFatal);
      process.removeListener('unhandledRejection', onFatal);
      await this.#cleanup();
      this.log.info({ code: this.#exitCode }, 'master stopped');
    }
  }

  async #prepare(): Promise<void> {
    const s = this.settings;
    if (s.pid !== null) writePidFile(s.pid);
    try {
      this.#runDir = mkdtempSync(join(tmpdir(), `peregrine-${process.pid}-`));
    } catch (err) {
      this.log.warn({ err }, 'no scratch directory: the watchdog judges by heartbeats alone');
    }
    for (const extension of this.#options.extensions ?? []) await extension.setup(this);
    if (s.admin !== null) {
      const address = await this.admin.listen(s.admin);
      this.log.info({ address, routes: this.admin.routes() }, 'admin listening');
    }
    // The master holds the listening sockets for its whole life and hands connections to
    // workers; with --reuse-port each worker binds its own, so port 0 becomes one free port.
    if (s.reusePort) {
      this.#listen = await resolvePorts(s.bind);
    } else {
      this.#listeners = new Listeners(
        (id, message, socket, done) => this.#pool.sendConnection(id, message, socket, done),
        s.shedDelay * 1000,
      );
      this.#listen = await this.#listeners.listen(s.bind, s.backlog);
    }
    process.title = `peregrine master [${this.#options.app}]`;
    cluster.setupPrimary({
      exec: workerEntry(),
      execArgv: workerExecArgv(this.#options.app, s.youngGeneration),
      args: [],
      silent: false,
    });
    this.log.info(
      { app: this.#options.app, workers: this.#plan.target, node: process.version },
      'master starting',
    );
  }

  async #cleanup(): Promise<void> {
    if (this.#listeners !== undefined && !this.#listenersClosed) await this.#listeners.close();
    this.#listeners?.dropWaiting();
    await this.admin.close().catch(() => {});
    for (const extension of this.#options.extensions ?? []) {
      try {
        await extension.close?.();
      } catch (err) {
        this.log.error({ err, extension: extension.name }, 'extension close failed');
      }
    }
    for (const w of this.#pool.all()) w.loopClock?.close();
    if (this.#runDir !== undefined) rmSync(this.#runDir, { recursive: true, force: true });
    if (this.settings.pid !== null) removePidFile(this.settings.pid);
  }

  async #handle(event: MasterEvent): Promise<void> {
    switch (event.kind) {
      case 'tick':
        return;
      case 'fatal':
        this.log.fatal({ err: event.error }, 'master internal error; stopping');
        this.#exitCode = EXIT.CRASH;
        this.#beginStop('graceful', 0);
        return;
      case 'signal':
        return this.#onSignal(event.signal);
      case 'message':
        this.#onMessage(event.worker, event.type, event.data);
        return;
      case 'exit':
        this.#onExit(event.worker, event.code, event.signal);
        return;
    }
  }

  async #onSignal(signal: MasterSignal): Promise<void> {
    switch (signal) {
      case 'SIGHUP':
        return this.#beginReload();
      case 'SIGTERM':
        this.#beginStop('graceful', this.settings.drainDelay);
        return;
      case 'SIGINT':
      case 'SIGQUIT':
        this.#beginStop('fast', 0);
        return;
      case 'SIGTTIN': {
        if (this.#plan.stop !== undefined) return;
        const max = this.#scaler?.policy.bounds.max;
        if (max !== undefined && this.#plan.target >= max) {
          this.log.warn({ target: this.#plan.target, max }, 'TTIN ignored: at --max-workers');
          return;
        }
        this.#plan.target++;
        if (this.#plan.reload !== undefined) this.#plan.reload.target++;
        this.#byHand('ttin', 'TTIN: one worker more');
        return;
      }
      case 'SIGTTOU': {
        if (this.#plan.stop !== undefined) return;
        const min = this.#scaler?.policy.bounds.min ?? 1;
        if (this.#plan.target <= min) {
          this.log.warn(
            { target: this.#plan.target, min },
            this.#scaler === undefined
              ? 'TTOU ignored: already at one worker'
              : 'TTOU ignored: at --min-workers',
          );
          return;
        }
        this.#plan.target--;
        if (this.#plan.reload !== undefined && this.#plan.reload.target > 1) {
          this.#plan.reload.target--;
        }
        this.#byHand('ttou', 'TTOU: one worker less');
        return;
      }
      case 'SIGUSR1':
        this.#options.log.reopen();
        this.#pool.broadcast('reopen-logs', {});
        this.log.info({}, 'USR1: log files reopened');
        return;
    }
  }

  /** A change of the worker count by signal: logged, an event, and the autoscaler's cool-down. */
  #byHand(type: 'ttin' | 'ttou', message: string): void {
    const fields = { target: this.#plan.target };
    this.log.info(fields, message);
    this.events.record(type, message, fields);
    this.#scaler?.policy.changed(Date.now());
  }

  #onMessage(w: WorkerRecord, type: string, data: unknown): void {
    switch (type) {
      case 'heartbeat': {
        const beat = data as WorkerMessages['heartbeat'];
        w.lastBeatAt = Date.now();
        w.heartbeat = beat;
        const limit = this.settings.maxMemory * 1024 * 1024;
        if (limit > 0 && beat.rss > limit && w.state === 'ready' && w.retire === undefined) {
          this.#pool.retire(w, 'max-memory', { rssMiB: Math.round(beat.rss / 1048576) });
        }
        break;
      }
      case 'ready':
        this.#onReady(w, data as WorkerMessages['ready']);
        break;
      case 'boot-error':
        w.bootError = data as WorkerMessages['boot-error'];
        break;
      case 'retire':
        if (w.state === 'ready' && w.retire === undefined && this.#plan.stop === undefined) {
          const { requests } = data as WorkerMessages['retire'];
          this.#pool.retire(w, 'max-requests', { requests });
        }
        break;
      case 'crashed': {
        const crash = data as WorkerMessages['crashed'];
        this.log.error(
          { worker: w.id, workerPid: w.pid, error: crash.message, stack: crash.stack },
          'worker had an uncaught exception; it drains and a replacement starts',
        );
        if (w.state === 'booting') {
          // Before ready it is a boot failure, so a module that always crashes cannot loop.
          w.bootError ??= { phase: 'startup', message: crash.message, stack: crash.stack };
        } else if (w.state === 'ready') {
          this.#book.restart('crash');
          this.#policy.crashed(Date.now());
          const grace = this.settings.gracefulTimeout * 1000;
          this.#pool.markStopping(w, 'draining', 'uncaught exception', grace);
        }
        break;
      }
      case 'readiness':
        this.#probes.answer(w.id, data as WorkerMessages['readiness']);
        break;
      case 'accepted': {
        const { seq, taken } = data as WorkerMessages['accepted'];
        this.#listeners?.confirm(w.id, seq, taken);
        break;
      }
      case 'drained':
        w.heartbeat = data as WorkerMessages['drained'];
        this.#pool.send(w, 'release', {});
        break;
      default:
        break;
    }
    this.messages.dispatch(type, data, w);
  }

  #onReady(w: WorkerRecord, ready: WorkerMessages['ready']): void {
    w.lastBeatAt = Date.now();
    if (w.state !== 'booting') return;
    w.state = 'ready';
    w.readyAt = Date.now();
    w.addresses = ready.addresses;
    const first = !this.#policy.everReady;
    this.#policy.ready();
    this.log.info(
      { worker: w.id, workerPid: w.pid, generation: w.generation, bootMs: ready.bootMs },
      'worker ready',
    );
    if (first) this.log.info({ addresses: ready.addresses }, 'listening');
  }

  #onExit(w: WorkerRecord, code: number | null, signal: string | null): void {
    this.#pool.reap(w);
    this.#probes.forget(w.id);
    this.#listeners?.forget(w.id);
    this.#book.reap(w);
    const fields = {
      worker: w.id,
      workerPid: w.pid,
      generation: w.generation,
      code,
      signal,
      uptimeMs: Date.now() - w.spawnedAt,
    };
    if (w.expectExit) {
      // One that never served (stopped while booting, as when the master halts) is no news.
      const level = w.readyAt === undefined ? 'debug' : 'info';
      this.log[level]({ ...fields, reason: w.stopReason }, 'worker exited');
    } else if (w.readyAt === undefined) {
      this.#bootFailed(w, code, signal, fields);
    } else {
      this.#book.restart('crash');
      const delayMs = this.#policy.crashed(Date.now());
      this.log.error({ ...fields, replaceInMs: delayMs }, 'worker died unexpectedly; replacing it');
    }
  }

  #bootFailed(
    w: WorkerRecord,
    code: number | null,
    signal: string | null,
    fields: Record<string, unknown>,
  ): void {
    const e = w.bootError;
    const reason =
      e !== undefined
        ? bootFailure(e)
        : `a worker exited (${signal ?? `code ${code}`}) before it was ready`;
    // Startup errors are the App's own code failing (a database refusing, a hook throwing): its
    // frames help. Load and bind errors say where and how in their message.
    const detail = {
      ...fields,
      phase: e?.phase,
      ...(e?.stack === undefined ? {} : { stack: e.stack }),
    };
    if (this.#plan.stop !== undefined) {
      // Stopping already (after the first failure halted the master, or on a signal): the
      // reason was logged once; the other workers failing the same way is no news.
      this.log.debug(detail, `worker failed to boot: ${reason}`);
      return;
    }
    if (this.#plan.reload !== undefined && w.generation === this.#plan.reload.generation) {
      this.log.error(detail, `worker failed to boot: ${reason}`);
      this.#abortReload(reason);
      return;
    }
    const haltCode =
      code === EXIT.APP_LOAD_ERROR || e?.phase === 'load'
        ? EXIT.APP_LOAD_ERROR
        : code === EXIT.BIND_ERROR || e?.phase === 'listen'
          ? EXIT.BIND_ERROR
          : EXIT.BOOT_ERROR;
    const first = !this.#policy.everReady;
    this.#book.restart('boot-failure');
    const verdict = this.#policy.bootFailed(Date.now());
    if (verdict.halt && first) {
      // Nothing ever booted: the code or the environment is broken, and every worker would fail
      // the same way. One message, then stop without spawning more.
      const { phase, stack } = detail;
      this.log.error({ phase, stack, exitCode: haltCode }, `no worker can start: ${reason}`);
      this.#exitCode = haltCode;
      this.#beginStop('graceful', 0, true);
      return;
    }
    this.log.error(detail, `worker failed to boot: ${reason}`);
    if (verdict.halt) {
      this.log.error(
        { exitCode: haltCode },
        `halting: ${this.#policy.bootFailures} workers in a row failed to boot: ${reason}`,
      );
      this.#exitCode = haltCode;
      this.#beginStop('graceful', 0, true);
      return;
    }
    this.log.warn(
      { retryInMs: verdict.delayMs, failures: this.#policy.bootFailures },
      'retrying the worker boot',
    );
  }

  async #beginReload(): Promise<void> {
    if (this.#plan.stop !== undefined) {
      this.log.warn({}, 'HUP ignored: stopping');
      return;
    }
    if (this.#plan.reload !== undefined) {
      this.#plan.reloadAgain = true;
      this.log.info(
        { generation: this.#plan.reload.generation },
        'HUP during a reload: another follows',
      );
      return;
    }
    let target = this.#plan.target;
    if (this.#options.input !== undefined) {
      try {
        const next = (await resolveSettings(this.#options.input)).settings;
        this.#applySettings(next);
        this.#scaler = autoscalerFor(this.settings, this.log, this.events, (a) =>
          this.#book.scaled(a),
        );
        if (this.#scaler !== undefined) {
          const { min, max } = this.#scaler.policy.bounds;
          target = Math.min(max, Math.max(min, target));
        } else if (next.workers !== this.#workersBefore) {
          target = next.workers as number;
        }
        this.#workersBefore = next.workers;
      } catch (err) {
        this.#book.reload('failed');
        this.log.error({ err }, 'reload aborted: the configuration is invalid; workers unchanged');
        return;
      }
    }
    const generation = ++this.#lastGeneration;
    this.#plan.reload = { generation, startedAt: Date.now(), target };
    this.#book.reload('started');
    this.log.info({ generation, workers: target }, 'reload started');
  }

  #applySettings(next: ServerSettings): void {
    const before = this.settings;
    const kept: string[] = [];
    // The master holds the sockets and files these name; a reload cannot change them.
    const masterOnly = settingList().filter(([, s]) => s.masterOnly === true);
    for (const [key] of masterOnly) {
      if (JSON.stringify(before[key]) !== JSON.stringify(next[key])) kept.push(key);
      (next as Record<string, unknown>)[key] = before[key];
    }
    if (kept.length > 0) this.log.warn({ settings: kept }, 'these settings need a restart');
    this.settings = next;
    // Workers forked from now on (the new generation) get the new cap.
    if (before.youngGeneration !== next.youngGeneration) {
      cluster.setupPrimary({ execArgv: workerExecArgv(this.#options.app, next.youngGeneration) });
    }
  }

  #abortReload(reason: string): void {
    const r = this.#plan.reload;
    if (r === undefined) return;
    this.#plan.reload = undefined;
    this.#plan.reloadAgain = false;
    this.#book.reload('failed');
    this.log.error(
      { generation: r.generation, kept: this.#plan.generation, reason },
      `reload failed; generation ${this.#plan.generation} keeps serving: ${reason}`,
    );
  }

  /** Reconciles the workers with the plan; runs after every event. */
  #manage(): void {
    const outcome = reconcile(this.#plan, {
      pool: this.#pool,
      policy: this.#policy,
      book: this.#book,
      log: this.log,
      now: Date.now(),
      scaler: this.#scaler,
    });
    if (outcome.reloadAgain) this.#queue.push({ kind: 'signal', signal: 'SIGHUP' });
    this.#handOver();
    if (this.#plan.stop !== undefined && this.#pool.size === 0) this.#state = 'stopped';
  }

  /** Which workers take new connections; closes the listeners when a stop starts draining. */
  #handOver(): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const stop = this.#plan.stop;
    if (stop !== undefined && Date.now() >= stop.drainAt && !this.#listenersClosed) {
      this.#listenersClosed = true;
      void listeners.close();
    }
    const ids = this.#pool
      .all()
      .filter((w) => w.state === 'ready')
      .map((w) => w.id)
      .sort((a, b) => a - b);
    const key = ids.join(',');
    if (key !== this.#accepting) {
      this.#accepting = key;
      listeners.setAccepting(ids);
    }
    if (this.#pool.size === 0 && stop !== undefined) {
      const dropped = listeners.dropWaiting();
      if (dropped > 0) this.log.warn({ dropped }, 'connections no worker took were closed');
    }
  }

  /** Begins a stop; `halt`: the master gives up after a boot failure it already logged. */
  #beginStop(mode: 'graceful' | 'fast', delaySeconds: number, halt = false): void {
    const now = Date.now();
    if (this.#plan.stop !== undefined) {
      if (mode === 'fast' && this.#plan.stop.mode === 'graceful') {
        this.#plan.stop = { mode, drainAt: now };
        this.log.warn({}, 'fast stop requested during a graceful stop');
      }
      return;
    }
    this.#state = 'stopping';
    this.#plan.stop = { mode, drainAt: now + delaySeconds * 1000 };
    if (this.#plan.reload !== undefined) {
      this.log.warn({ generation: this.#plan.reload.generation }, 'reload abandoned: stopping');
      this.#plan.reload = undefined;
    }
    this.log[halt ? 'debug' : 'info'](
      {
        mode,
        drainDelayMs: delaySeconds * 1000,
        gracefulTimeoutMs: this.settings.gracefulTimeout * 1000,
      },
      mode === 'fast' ? 'fast stop' : 'graceful stop: not ready any more; draining after the delay',
    );
  }
}

/** A worker's boot failure as one line of the master's log. */
function bootFailure(e: BootError): string {
  switch (e.phase) {
    case 'load':
    case 'listen':
      // AppLoadError and BindError messages say what, where and how to fix it.
      return e.message;
    default:
      return `the App's startup failed: ${e.message}`;
  }
}
