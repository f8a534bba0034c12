import cluster from 'node:cluster';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EXIT, isBootFailure } from '../exit-codes.ts';
import type { MasterExtension } from '../extensions.ts';
import {
  isEnvelope,
  type MasterMessages,
  MessageRegistry,
  type WorkerMessages,
} from '../ipc.ts';
import type { ServerLog } from '../log.ts';
import type { ServerSettings } from '../settings/all.ts';
import { type SettingsInput, resolveSettings } from '../settings/resolve.ts';
import type { Address } from '../settings/setting.ts';
import { WORKER_CONFIG_ENV, type WorkerConfig } from '../worker/config.ts';
import type { CapturedStack } from '../worker/watchdog.ts';
import { AdminServer, sendJSON } from './admin.ts';
import { EventQueue } from './event-queue.ts';
import { removePidFile, writePidFile } from './pid-file.ts';
import { ReadinessProbes } from './readiness.ts';
import { installSignals, type MasterSignal } from './signals.ts';
import { resolvePorts, workerEntry, workerExecArgv } from './spawn-options.ts';
import { MasterStatsBook, type MasterStats } from './stats.ts';
import { isAlive, isServing, type RetireReason, type WorkerRecord } from './worker-table.ts';

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
  | { kind: 'signal'; signal: MasterSignal }
  | { kind: 'fatal'; error: unknown }
  | { kind: 'message'; worker: WorkerRecord; type: string; data: unknown }
  | { kind: 'exit'; worker: WorkerRecord; code: number | null; signal: string | null }
  | { kind: 'tick' };

/** Consecutive boot failures (after the first good boot) before the master gives up. */
const MAX_BOOT_FAILURES = 5;
/** How long a fast stop (INT/QUIT) gives workers before killing them, ms. */
const FAST_STOP_GRACE = 2000;
/** How long a readiness probe waits for the workers' checks, ms. */
const PROBE_TIMEOUT = 1000;

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
  /** The master's logger. */
  readonly log: Logger;
  /** The settings in effect (a reload may change those not marked master-only). */
  settings: ServerSettings;
  readonly #options: MasterOptions;
  readonly #queue = new EventQueue<MasterEvent>();
  readonly #probes = new ReadinessProbes();
  readonly #book = new MasterStatsBook();
  readonly #workers = new Map<number, WorkerRecord>();
  #state: MasterState = 'starting';
  #generation = 1;
  #lastGeneration = 1;
  #target: number;
  #reload: { generation: number; startedAt: number } | undefined;
  #reloadAgain = false;
  #stop: { mode: 'graceful' | 'fast'; since: number; drainAt: number } | undefined;
  #exitCode: number = EXIT.OK;
  #everReady = false;
  #bootFailures = 0;
  #crashTimes: number[] = [];
  #spawnNotBefore = 0;
  #lastId = 0;
  #lastTopology = 0;
  #listen: Address[] = [];
  #stackDir: string | undefined;
  readonly #startedAt = Date.now();

  constructor(options: MasterOptions) {
    this.#options = options;
    this.settings = options.settings;
    this.log = options.log.logger;
    this.#target = options.settings.workers;
    this.admin = new AdminServer(this.log);
    this.admin.route('GET', '/healthz', (_req, res) => sendJSON(res, 200, this.#health()));
    this.admin.route('GET', '/readyz', async (_req, res) => {
      const { status, body } = await this.readiness();
      sendJSON(res, status, body);
    });
  }

  /** Where the master is in its life. */
  get state(): MasterState {
    return this.#state;
  }

  /** How many workers the master keeps (changed by `TTIN`/`TTOU` and reloads). */
  get target(): number {
    return this.#target;
  }

  /** The workers alive now (any state but exited). */
  workers(): readonly WorkerRecord[] {
    return [...this.#workers.values()];
  }

  /** Counters and state of the process model (telemetry exports these). */
  stats(): MasterStats {
    return this.#book.snapshot({
      state: this.#state,
      generation: this.#generation,
      target: this.#target,
      workers: this.workers(),
      startedAt: this.#startedAt,
    });
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

  /** Sends a message to every live worker. */
  broadcast<K extends keyof MasterMessages>(type: K, data: MasterMessages[K]): void {
    for (const w of this.#workers.values()) this.send(w, type, data);
  }

  /** The `/readyz` answer: 200 only while running with ready workers whose checks pass. */
  async readiness(): Promise<{ status: number; body: Record<string, unknown> }> {
    const ready = () => [...this.#workers.values()].filter((w) => w.state === 'ready');
    const counts = () => ({ ready: ready().length, target: this.#target });
    if (this.#state !== 'running') {
      return { status: 503, body: { status: this.#state, workers: counts() } };
    }
    const ids = ready().map((w) => w.id);
    if (ids.length === 0) return { status: 503, body: { status: 'starting', workers: counts() } };
    const result = await this.#probes.probe(ids, PROBE_TIMEOUT, (workerId, id) =>
      this.send(workerId, 'readiness-probe', { id, timeout: PROBE_TIMEOUT }),
    );
    // A TERM may have arrived while the workers ran their checks.
    if (this.#state !== 'running') {
      return { status: 503, body: { status: this.#state, workers: counts() } };
    }
    const ok = result.ready && result.answered > 0;
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'ready' : 'not ready',
        workers: { ...counts(), answered: result.answered },
        checks: result.checks,
      },
    };
  }

  #health(): Record<string, unknown> {
    const s = this.stats();
    return {
      status: 'ok',
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      state: s.state,
      generation: s.generation,
      workers: { ...s.workers, target: s.target },
    };
  }

  /** Runs until stopped; resolves to the exit code. */
  async run(): Promise<number> {
    const s = this.settings;
    const uninstall = installSignals((signal) => this.#queue.push({ kind: 'signal', signal }));
    const onFatal = (error: unknown) => this.#queue.push({ kind: 'fatal', error });
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
    let ticker: NodeJS.Timeout | undefined;
    try {
      try {
        await this.#prepare();
      } catch (err) {
        this.log.error({ err }, `master failed to start: ${(err as Error).message}`);
        return EXIT.BOOT_ERROR;
      }
      this.#state = 'running';
      ticker = setInterval(() => this.#queue.push({ kind: 'tick' }), this.#tickMs());
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
      if (s.pid !== null) removePidFile(s.pid);
    }
  }

  async #prepare(): Promise<void> {
    const s = this.settings;
    this.#listen = await resolvePorts(s.bind);
    if (s.pid !== null) writePidFile(s.pid);
    if (s.watchdogStack) this.#stackDir = mkdtempSync(join(tmpdir(), `peregrine-${process.pid}-`));
    for (const extension of this.#options.extensions ?? []) await extension.setup(this);
    if (s.admin !== null) {
      const address = await this.admin.listen(s.admin);
      this.log.info({ address, routes: this.admin.routes() }, 'admin listening');
    }
    cluster.setupPrimary({
      exec: workerEntry(),
      execArgv: workerExecArgv(this.#options.app),
      args: [],
      silent: false,
    });
    this.log.info(
      { app: this.#options.app, workers: this.#target, node: process.version },
      'master starting',
    );
  }

  async #cleanup(): Promise<void> {
    await this.admin.close().catch(() => {});
    for (const extension of this.#options.extensions ?? []) {
      try {
        await extension.close?.();
      } catch (err) {
        this.log.error({ err, extension: extension.name }, 'extension close failed');
      }
    }
    if (this.#stackDir !== undefined) rmSync(this.#stackDir, { recursive: true, force: true });
  }

  #heartbeatMs(): number {
    return Math.max(100, Math.min(1000, this.settings.timeout * 250));
  }

  #tickMs(): number {
    return Math.max(50, Math.min(250, this.#heartbeatMs() / 2));
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
      case 'SIGTTIN':
        if (this.#stop !== undefined) return;
        this.#target++;
        this.log.info({ target: this.#target }, 'TTIN: one worker more');
        return;
      case 'SIGTTOU':
        if (this.#stop !== undefined) return;
        if (this.#target <= 1) {
          this.log.warn({ target: this.#target }, 'TTOU ignored: already at one worker');
          return;
        }
        this.#target--;
        this.log.info({ target: this.#target }, 'TTOU: one worker less');
        return;
      case 'SIGUSR1':
        this.#options.log.reopen();
        this.broadcast('reopen-logs', {});
        this.log.info({}, 'USR1: log files reopened');
        return;
    }
  }

  #onMessage(w: WorkerRecord, type: string, data: unknown): void {
    const now = Date.now();
    switch (type) {
      case 'heartbeat': {
        const beat = data as WorkerMessages['heartbeat'];
        w.lastBeatAt = now;
        w.heartbeat = beat;
        const limit = this.settings.maxMemory * 1024 * 1024;
        if (limit > 0 && beat.rss > limit && w.state === 'ready' && w.retire === undefined) {
          this.#retire(w, 'max-memory', { rssMiB: Math.round(beat.rss / 1048576) });
        }
        break;
      }
      case 'ready': {
        const ready = data as WorkerMessages['ready'];
        w.lastBeatAt = now;
        if (w.state !== 'booting') break;
        w.state = 'ready';
        w.readyAt = now;
        w.addresses = ready.addresses;
        this.#bootFailures = 0;
        this.log.info(
          { worker: w.id, workerPid: w.pid, generation: w.generation, bootMs: ready.bootMs },
          'worker ready',
        );
        if (!this.#everReady) {
          this.#everReady = true;
          this.log.info({ addresses: ready.addresses }, 'listening');
        }
        break;
      }
      case 'boot-error':
        w.bootError = data as WorkerMessages['boot-error'];
        break;
      case 'retire':
        if (w.state === 'ready' && w.retire === undefined && this.#stop === undefined) {
          this.#retire(w, 'max-requests', { requests: (data as WorkerMessages['retire']).requests });
        }
        break;
      case 'crashed': {
        const crash = data as WorkerMessages['crashed'];
        this.log.error(
          { worker: w.id, workerPid: w.pid, error: crash.message, stack: crash.stack },
          'worker had an uncaught exception; it drains and a replacement starts',
        );
        if (w.state === 'booting' || w.state === 'ready') {
          this.#book.restart('crash');
          this.#noteCrash(now);
          this.#markStopping(w, 'draining', 'uncaught exception', this.settings.gracefulTimeout * 1000);
        }
        break;
      }
      case 'readiness':
        this.#probes.answer(w.id, data as WorkerMessages['readiness']);
        break;
      case 'drained':
        w.heartbeat = data as WorkerMessages['drained'];
        break;
      default:
        break;
    }
    this.messages.dispatch(type, data, w);
  }

  #onExit(w: WorkerRecord, code: number | null, signal: string | null): void {
    w.state = 'exited';
    this.#workers.delete(w.id);
    this.#probes.forget(w.id);
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
      this.log.info({ ...fields, reason: w.stopReason }, 'worker exited');
      return;
    }
    if (w.readyAt === undefined) {
      this.#bootFailed(w, code, signal, fields);
      return;
    }
    this.#book.restart('crash');
    this.#noteCrash(Date.now());
    this.log.error(fields, 'worker died unexpectedly; replacing it');
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
        ? `${e.phase} failed: ${e.message}`
        : `exited (${signal ?? `code ${code}`}) before it was ready`;
    this.log.error({ ...fields, phase: e?.phase, stack: e?.stack }, `worker failed to boot: ${reason}`);
    if (this.#stop !== undefined) return;
    const haltCode =
      code === EXIT.APP_LOAD_ERROR || (e?.phase === 'load' && !isBootFailure(code))
        ? EXIT.APP_LOAD_ERROR
        : EXIT.BOOT_ERROR;
    if (this.#reload !== undefined && w.generation === this.#reload.generation) {
      this.#abortReload(reason);
      return;
    }
    if (!this.#everReady) {
      this.#halt(haltCode, `the first workers cannot boot: ${reason}`);
      return;
    }
    this.#book.restart('boot-failure');
    this.#bootFailures++;
    if (this.#bootFailures >= MAX_BOOT_FAILURES) {
      this.#halt(haltCode, `${this.#bootFailures} workers in a row failed to boot: ${reason}`);
      return;
    }
    const delay = Math.min(5000, 250 * 2 ** (this.#bootFailures - 1));
    this.#spawnNotBefore = Date.now() + delay;
    this.log.warn({ retryInMs: delay, failures: this.#bootFailures }, 'retrying the worker boot');
  }

  #noteCrash(now: number): void {
    this.#crashTimes = this.#crashTimes.filter((t) => now - t < 60_000);
    this.#crashTimes.push(now);
    const n = this.#crashTimes.length;
    // The first replacements are immediate; a crash loop backs off up to 10 s.
    const delay = n <= 2 ? 0 : Math.min(10_000, 250 * 2 ** (n - 3));
    this.#spawnNotBefore = Math.max(this.#spawnNotBefore, now + delay);
    if (delay > 0) this.log.warn({ crashesLastMinute: n, delayMs: delay }, 'crash loop: backing off');
  }

  #halt(code: number, reason: string): void {
    this.log.error({ code, reason }, `halting: ${reason}`);
    this.#exitCode = code;
    this.#beginStop('graceful', 0);
  }

  async #beginReload(): Promise<void> {
    if (this.#stop !== undefined) {
      this.log.warn({}, 'HUP ignored: stopping');
      return;
    }
    if (this.#reload !== undefined) {
      this.#reloadAgain = true;
      this.log.info({ generation: this.#reload.generation }, 'HUP during a reload: another follows');
      return;
    }
    if (this.#options.input !== undefined) {
      try {
        this.#applySettings((await resolveSettings(this.#options.input)).settings);
      } catch (err) {
        this.#book.reload('failed');
        this.log.error({ err }, 'reload aborted: the configuration is invalid; workers unchanged');
        return;
      }
    }
    const generation = ++this.#lastGeneration;
    this.#reload = { generation, startedAt: Date.now() };
    this.#book.reload('started');
    this.log.info({ generation, workers: this.#target }, 'reload started');
  }

  #applySettings(next: ServerSettings): void {
    const before = this.settings;
    const kept: string[] = [];
    for (const key of ['bind', 'backlog', 'reusePort', 'admin', 'pid', 'config'] as const) {
      if (JSON.stringify(before[key]) !== JSON.stringify(next[key])) kept.push(key);
      (next as Record<string, unknown>)[key] = before[key];
    }
    if (kept.length > 0) this.log.warn({ settings: kept }, 'these settings need a restart');
    if (next.workers !== before.workers) this.#target = next.workers;
    this.settings = next;
  }

  #abortReload(reason: string): void {
    const r = this.#reload;
    if (r === undefined) return;
    this.#reload = undefined;
    this.#book.reload('failed');
    this.log.error(
      { generation: r.generation, kept: this.#generation, reason },
      `reload failed; generation ${this.#generation} keeps serving: ${reason}`,
    );
    if (this.#reloadAgain) {
      this.#reloadAgain = false;
      this.log.info({}, 'the queued reload is dropped too');
    }
  }

  #beginStop(mode: 'graceful' | 'fast', delaySeconds: number): void {
    const now = Date.now();
    if (this.#stop !== undefined) {
      if (mode === 'fast' && this.#stop.mode === 'graceful') {
        this.#stop = { mode, since: now, drainAt: now };
        this.log.warn({}, 'fast stop requested during a graceful stop');
      }
      return;
    }
    this.#state = 'stopping';
    this.#stop = { mode, since: now, drainAt: now + delaySeconds * 1000 };
    if (this.#reload !== undefined) {
      this.log.warn({ generation: this.#reload.generation }, 'reload abandoned: stopping');
      this.#reload = undefined;
    }
    this.log.info(
      { mode, drainDelayMs: delaySeconds * 1000, gracefulTimeoutMs: this.settings.gracefulTimeout * 1000 },
      mode === 'fast' ? 'fast stop' : 'graceful stop: not ready any more; draining after the delay',
    );
  }

  /** Reconciles the workers with what they should be; runs after every event. */
  #manage(): void {
    const now = Date.now();
    this.#watch(now);
    if (this.#stop !== undefined) {
      this.#manageStop(now);
    } else {
      this.#manageReload();
      this.#manageCurrent(now);
      this.#drainStale();
    }
    this.#shareTopology();
    if (this.#stop !== undefined && this.#workers.size === 0) this.#state = 'stopped';
  }

  /** Heartbeat watchdog, boot timeout, stop grace. */
  #watch(now: number): void {
    const s = this.settings;
    const silenceLimit = s.timeout * 1000;
    for (const w of this.#workers.values()) {
      if (w.state === 'exited' || w.killedAt !== undefined) continue;
      if (w.state === 'booting' && now - w.spawnedAt > s.startupTimeout * 1000) {
        w.bootError ??= {
          phase: 'startup',
          message: `not ready within --startup-timeout ${s.startupTimeout}s`,
        };
        this.#kill(w);
        continue;
      }
      const silentMs = w.lastBeatAt === undefined ? 0 : now - w.lastBeatAt;
      if (silentMs > silenceLimit) {
        const stack = this.#takeStack(w);
        this.log.error(
          { worker: w.id, workerPid: w.pid, generation: w.generation, silentMs, stack: stack?.frames },
          `watchdog: worker ${w.id} (pid ${w.pid}) sent no heartbeat for ${silentMs} ms; killing it`,
        );
        if (w.state === 'booting') {
          w.bootError ??= { phase: 'startup', message: `event loop blocked for ${silentMs} ms` };
        } else {
          if (w.state === 'ready') this.#book.restart('watchdog');
          w.expectExit = true;
        }
        this.#kill(w);
        continue;
      }
      if (w.stopSince !== undefined && now - w.stopSince > w.stopGrace) {
        this.log.warn(
          { worker: w.id, workerPid: w.pid, graceMs: w.stopGrace },
          `worker ${w.id} did not stop in time; killing it`,
        );
        this.#kill(w);
      }
    }
  }

  #takeStack(w: WorkerRecord): CapturedStack | undefined {
    if (this.#stackDir === undefined) return undefined;
    const file = join(this.#stackDir, `${w.id}.json`);
    try {
      const stack = JSON.parse(readFileSync(file, 'utf8')) as CapturedStack;
      rmSync(file, { force: true });
      return stack;
    } catch {
      return undefined;
    }
  }

  #kill(w: WorkerRecord): void {
    if (w.state !== 'draining') w.state = 'stopping';
    w.killedAt = Date.now();
    try {
      process.kill(w.pid, 'SIGKILL');
    } catch {
      // Already gone; its exit event is on its way.
    }
  }

  #manageStop(now: number): void {
    const stop = this.#stop!;
    if (stop.mode === 'fast') {
      for (const w of this.#workers.values()) {
        if (w.state === 'stopping') continue;
        this.#markStopping(w, 'stopping', 'fast stop', FAST_STOP_GRACE);
        this.send(w, 'quit', {});
      }
      return;
    }
    if (now < stop.drainAt) return;
    for (const w of this.#workers.values()) {
      if (w.state === 'ready') this.#drain(w, 'stopping');
      else if (w.state === 'booting') {
        this.#markStopping(w, 'stopping', 'stopping while booting', FAST_STOP_GRACE);
        this.send(w, 'quit', {});
      }
    }
  }

  #manageReload(): void {
    const r = this.#reload;
    if (r === undefined) return;
    const fresh = [...this.#workers.values()].filter(
      (w) => w.generation === r.generation && isServing(w),
    );
    if (fresh.filter((w) => w.state === 'ready').length >= this.#target) {
      this.#generation = r.generation;
      this.#reload = undefined;
      this.#book.reload('succeeded');
      this.log.info(
        { generation: r.generation, ms: Date.now() - r.startedAt },
        'reload complete; draining the previous generation',
      );
      if (this.#reloadAgain) {
        this.#reloadAgain = false;
        this.#queue.push({ kind: 'signal', signal: 'SIGHUP' });
      }
      return;
    }
    for (let n = fresh.length; n < this.#target; n++) this.#spawn(r.generation);
  }

  #manageCurrent(now: number): void {
    const current = [...this.#workers.values()].filter((w) => w.generation === this.#generation);
    const serving = current.filter((w) => isServing(w) && w.retire === undefined);
    if (serving.length > this.#target) {
      const extra = serving.sort((a, b) => b.spawnedAt - a.spawnedAt).slice(0, serving.length - this.#target);
      for (const w of extra) {
        if (w.state === 'booting') {
          this.#markStopping(w, 'stopping', 'scale-down', FAST_STOP_GRACE);
          this.send(w, 'quit', {});
        } else {
          this.#retire(w, 'scale-down', {});
        }
      }
    } else if (serving.length < this.#target && now >= this.#spawnNotBefore) {
      for (let n = serving.length; n < this.#target; n++) this.#spawn(this.#generation);
    }
    // A retiring worker drains only once the others cover the target: its replacement is ready.
    const readyFresh = current.filter((w) => w.state === 'ready' && w.retire === undefined).length;
    const retiring = current
      .filter((w) => w.state === 'ready' && w.retire !== undefined)
      .sort((a, b) => (a.readyAt ?? 0) - (b.readyAt ?? 0));
    let remaining = retiring.length;
    for (const w of retiring) {
      if (readyFresh + remaining - 1 < this.#target) break;
      this.#drain(w, `recycled (${w.retire})`);
      remaining--;
    }
  }

  #drainStale(): void {
    for (const w of this.#workers.values()) {
      if (!isServing(w) || w.generation === this.#generation) continue;
      if (this.#reload !== undefined && w.generation === this.#reload.generation) continue;
      if (w.state === 'ready') this.#drain(w, `generation ${w.generation} replaced`);
      else {
        this.#markStopping(w, 'stopping', 'generation abandoned', FAST_STOP_GRACE);
        this.send(w, 'quit', {});
      }
    }
  }

  #retire(w: WorkerRecord, reason: RetireReason, fields: Record<string, unknown>): void {
    w.retire = reason;
    if (reason !== 'scale-down') this.#book.restart(reason);
    this.log.info(
      { worker: w.id, workerPid: w.pid, reason, ...fields },
      reason === 'scale-down'
        ? `worker ${w.id} retires (scale-down)`
        : `worker ${w.id} will be replaced (${reason}) once its replacement is ready`,
    );
  }

  #markStopping(
    w: WorkerRecord,
    state: 'draining' | 'stopping',
    reason: string,
    graceMs: number,
  ): void {
    w.state = state;
    w.stopSince = Date.now();
    w.stopGrace = graceMs;
    w.stopReason = reason;
    w.expectExit = true;
  }

  #drain(w: WorkerRecord, reason: string): void {
    const grace = this.settings.gracefulTimeout * 1000;
    this.#markStopping(w, 'draining', reason, grace);
    this.send(w, 'drain', { gracefulTimeout: grace });
    this.log.info({ worker: w.id, workerPid: w.pid, generation: w.generation, reason }, 'draining worker');
  }

  #spawn(generation: number): WorkerRecord {
    const s = this.settings;
    const id = ++this.#lastId;
    const timeoutMs = s.timeout * 1000;
    const config: WorkerConfig = {
      id,
      generation,
      workerCount: this.#workers.size + 1,
      app: this.#options.app,
      cwd: this.#options.cwd ?? process.cwd(),
      settings: s,
      listen: this.#listen,
      logFormat: this.#options.log.format,
      maxRequests:
        s.maxRequests > 0
          ? s.maxRequests + (s.maxRequestsJitter > 0 ? randomInt(0, s.maxRequestsJitter + 1) : 0)
          : 0,
      heartbeatMs: this.#heartbeatMs(),
      stackFile: this.#stackDir === undefined ? null : join(this.#stackDir, `${id}.json`),
      stackAfterMs: Math.max(timeoutMs / 2, timeoutMs - 1000),
    };
    const child = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
    const w: WorkerRecord = {
      id,
      generation,
      process: child,
      pid: child.process.pid ?? 0,
      state: 'booting',
      spawnedAt: Date.now(),
      readyAt: undefined,
      lastBeatAt: undefined,
      heartbeat: undefined,
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
        this.#queue.push({ kind: 'message', worker: w, type: message.type, data: message.data });
      }
    });
    child.on('exit', (code: number | null, signal: string | null) => {
      this.#queue.push({ kind: 'exit', worker: w, code, signal });
    });
    // Sends to a worker that just died fail here; its exit event tells the rest.
    child.on('error', () => {});
    this.#workers.set(id, w);
    this.#book.spawned();
    this.log.info({ worker: id, workerPid: w.pid, generation }, 'worker spawned');
    return w;
  }

  #shareTopology(): void {
    const count = [...this.#workers.values()].filter(isAlive).length;
    if (count === this.#lastTopology || count === 0) return;
    this.#lastTopology = count;
    this.broadcast('topology', { workerCount: count });
  }
}
