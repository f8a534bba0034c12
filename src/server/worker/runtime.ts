import type { Socket } from 'node:net';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { App } from '../../app/app.ts';
import { logFields } from '../../app/logger.ts';
import { setServerDefaults } from '../../app/server-defaults.ts';
import { topology } from '../../process/topology.ts';
import { BindError } from '../bind-error.ts';
import { EXIT } from '../exit-codes.ts';
import { workerExtensions } from '../extensions.ts';
import {
  type BootError,
  type Heartbeat,
  isEnvelope,
  type MasterMessages,
  MessageRegistry,
  type WorkerMessages,
} from '../ipc.ts';
import { createLog, type ServerLog } from '../log.ts';
import { LoopClockWriter } from '../loop-clock.ts';
import { type RunningServer, serve } from '../serve.ts';
import { linkNodeBudgets } from './budget-link.ts';
import type { WorkerConfig } from './config.ts';
import { AppLoadError, loadApp } from './load-app.ts';
import { linkNodeBus } from './node-link.ts';
import { startWatchdogThread, type WatchdogThread } from './watchdog.ts';

// Signals meant for the master reach workers too when they are sent to the process group (a
// terminal's Ctrl-C, systemd's control-group kill). The master coordinates every stop, so a
// worker ignores them; TTIN/TTOU would otherwise stop the process.
const IGNORED_SIGNALS: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGTTIN',
  'SIGTTOU',
];

function errorFields(err: unknown): { message: string; stack?: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    // An App that cannot load and an address that cannot be bound are the user's to fix: the
    // message says where and how; Peregrine's frames would only bury it.
    const stack = err instanceof AppLoadError || err instanceof BindError ? undefined : err.stack;
    return {
      message: err.message,
      ...(stack === undefined ? {} : { stack }),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { message: String(err) };
}

/**
 * One worker process: it loads the App, serves it, sends heartbeats, and obeys the master.
 * Worker extensions receive this object.
 */
export class WorkerRuntime {
  /** What the master told this worker. */
  readonly config: WorkerConfig;
  /** The worker's logger (also the App's, unless the App brought its own). */
  readonly log: Logger;
  /** Handlers of messages from the master, by type. */
  readonly messages = new MessageRegistry<MasterMessages, undefined>();
  /** The App, once loaded. */
  app: App | undefined;
  /** The server, once listening. */
  server: RunningServer | undefined;
  readonly #serverLog: ServerLog;
  #watchdog: WatchdogThread | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #window: { elu: EventLoopUtilization; cpu: NodeJS.CpuUsage; at: number } | undefined;
  #turns: NodeJS.Timeout | undefined;
  #loopClock: LoopClockWriter | undefined;
  #stopping: Promise<never> | undefined;

  constructor(config: WorkerConfig) {
    this.config = config;
    this.#serverLog = createLog({
      level: config.settings.logLevel,
      format: config.logFormat,
      file: config.settings.logFile,
      bindings: { role: 'worker', worker: config.id, generation: config.generation },
      // Like the default logger's: inside a traced request a line carries its ids.
      mixin: logFields,
    });
    this.log = this.#serverLog.logger;
  }

  /** Sends a message to the master; resolves when it is handed to the channel. */
  send<K extends keyof WorkerMessages>(type: K, data: WorkerMessages[K]): Promise<void> {
    return new Promise((resolve) => {
      if (process.send === undefined || !process.connected) {
        resolve();
        return;
      }
      process.send({ type, data }, undefined, {}, () => resolve());
    });
  }

  /** The counters a heartbeat carries. */
  stats(): Heartbeat {
    const s = this.server;
    return {
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
      requests: s?.stats.requests ?? 0,
      shed: s?.stats.shed ?? 0,
      overCap: s?.stats.overCap ?? 0,
      deadlines: this.app?.deadlinesExpired ?? 0,
      connections: s?.connections ?? 0,
      inflight: s?.inflight ?? 0,
      lagMs: Math.round(s?.shedder.takeMaxLag() ?? 0),
      ...this.#loopWindow(),
    };
  }

  /** Event-loop utilization and CPU use since the previous call (the heartbeat's window). */
  #loopWindow(): { elu: number; cpu: number } {
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const at = performance.now();
    const last = this.#window;
    this.#window = { elu, cpu, at };
    if (last === undefined) return { elu: 0, cpu: 0 };
    const wallMicros = Math.max(1, (at - last.at) * 1000);
    const used = cpu.user - last.cpu.user + (cpu.system - last.cpu.system);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    return {
      elu: round(performance.eventLoopUtilization(elu, last.elu).utilization),
      cpu: round(Math.max(0, used / wallMicros)),
    };
  }

  /**
   * Boots: heartbeat first (boot counts as alive), then the extensions' `prepare`, load, the
   * extensions' `setup`, startup, listen.
   */
  async run(): Promise<void> {
    const { config } = this;
    const s = config.settings;
    topology.update({
      workerId: config.id,
      generation: config.generation,
      workerCount: config.workerCount,
    });
    process.title = `peregrine worker ${config.id} [${config.app}]`;
    for (const signal of IGNORED_SIGNALS) process.on(signal, () => {});
    this.#listen();
    this.#startHeartbeat();
    setServerDefaults({
      logger: this.log,
      trustedProxies: s.trustedProxies,
      requestTimeout: s.requestTimeout * 1000,
      bodyLimit: s.bodyLimit,
    });
    try {
      for (const extension of workerExtensions) await extension.prepare?.(this);
    } catch (err) {
      return this.#bootFailed('startup', err, EXIT.BOOT_ERROR);
    }
    try {
      this.app = await loadApp(config.app, config.cwd);
    } catch (err) {
      return this.#bootFailed('load', err, EXIT.APP_LOAD_ERROR);
    }
    try {
      for (const extension of workerExtensions) await extension.setup(this);
    } catch (err) {
      return this.#bootFailed('startup', err, EXIT.BOOT_ERROR);
    }
    try {
      this.server = await serve(this.app, {
        listen: config.listen,
        backlog: s.backlog,
        reusePort: s.reusePort,
        exclusive: s.reusePort,
        external: config.external,
        httpEngine: s.httpEngine,
        keepAliveTimeout: s.keepAlive * 1000,
        headersTimeout: s.headersTimeout * 1000,
        receiveTimeout: s.receiveTimeout * 1000,
        sendTimeout: s.sendTimeout * 1000,
        maxHeaderSize: s.maxHeaderSize,
        maxConnections: s.maxConnections,
        shedDelay: s.shedDelay * 1000,
        shedUtilization: s.shedUtilization,
        connectionsCheckingInterval: 1000,
        // An instrumented App writes the access log itself (with route and trace ids).
        ...(s.accessLog && !this.app.instrumented
          ? { accessLog: this.log.child({ log: 'access' }) }
          : {}),
        maxRequests: config.maxRequests,
        onMaxRequests: () => {
          void this.send('retire', { reason: 'max-requests', requests: config.maxRequests });
        },
      });
    } catch (err) {
      if (err instanceof BindError) return this.#bootFailed('listen', err, EXIT.BIND_ERROR);
      return this.#bootFailed('startup', err, EXIT.BOOT_ERROR);
    }
    // From process start (performance's time origin): what a replacement really costs.
    const bootMs = Math.round(performance.now());
    this.log.debug({ addresses: this.server.addresses, bootMs }, 'worker listening');
    await this.send('ready', { addresses: [...this.server.addresses], bootMs });
  }

  #listen(): void {
    process.on('message', (message: unknown, handle: unknown) => {
      if (!isEnvelope(message)) return;
      if (message.type === 'connection') {
        this.#takeConnection(message.data as MasterMessages['connection'], handle as Socket);
        return;
      }
      this.messages.dispatch(message.type, message.data, undefined);
    });
    this.messages.on('drain', ({ gracefulTimeout }) => void this.stop('drain', gracefulTimeout));
    this.messages.on('quit', () => void this.stop('quit', 0));
    this.messages.on('topology', ({ workerCount }) => topology.update({ workerCount }));
    linkNodeBus(this, this.config.nodeId);
    linkNodeBudgets(this);
    this.messages.on('reopen-logs', () => this.#serverLog.reopen());
    this.messages.on('readiness-probe', ({ id, timeout }) => {
      const app = this.app;
      if (app === undefined) {
        void this.send('readiness', { id, ready: false, checks: {} });
        return;
      }
      app.checkReadiness(timeout).then(
        (r) => this.send('readiness', { id, ready: r.ready, checks: r.checks }),
        (err: unknown) =>
          this.send('readiness', {
            id,
            ready: false,
            checks: { app: { ok: false, error: errorFields(err).message } },
          }),
      );
    });
    // cluster makes an orphaned worker exit on the spot; drain instead, so a master that died
    // (OOM killer, kill -9) does not take the in-flight requests with it.
    process.removeAllListeners('disconnect');
    process.once('disconnect', () => {
      this.log.warn({}, 'master is gone; draining');
      void this.stop('drain', this.config.settings.gracefulTimeout * 1000);
    });
    process.on('uncaughtException', (err) => this.#crashed(err));
  }

  /** A connection the master accepted: serve it and confirm, or decline so it goes elsewhere. */
  #takeConnection({ seq, bind }: MasterMessages['connection'], socket: Socket | undefined): void {
    const taken = socket !== undefined && this.server?.accept(socket, bind) === true;
    // Declining closes only this process's descriptor; the master still holds the connection.
    if (!taken) socket?.destroy();
    void this.send('accepted', { seq, taken });
  }

  #startHeartbeat(): void {
    const { config } = this;
    if (config.stackFile !== null) {
      try {
        this.#watchdog = startWatchdogThread(config.stackAfterMs, config.stackFile);
      } catch (err) {
        this.log.warn({ err }, 'watchdog thread unavailable; blocked stacks will not be captured');
      }
    }
    if (config.loopClockFile !== null) {
      try {
        this.#loopClock = new LoopClockWriter(config.loopClockFile);
      } catch (err) {
        this.log.warn({ err }, 'loop clock unavailable; the master judges by heartbeats');
      }
    }
    // PERF: a turn is recorded every turnMs (≤ 50 ms): one clock read and one 8-byte pwrite, so
    // the master knows within turnMs when the loop last ran, without waiting on a message.
    const turn = () => {
      const now = Date.now();
      this.#watchdog?.beat(now);
      try {
        this.#loopClock?.turned(now);
      } catch {
        // The master removed the file (it is reaping this worker); nothing left to tell it.
      }
    };
    this.#turns = setInterval(turn, config.turnMs);
    this.#turns.unref();
    turn();
    const beat = () => {
      void this.send('heartbeat', this.stats());
    };
    this.#heartbeat = setInterval(beat, config.heartbeatMs);
    this.#heartbeat.unref();
    beat();
  }

  async #bootFailed(phase: BootError['phase'], err: unknown, code: number): Promise<never> {
    const fields = errorFields(err);
    // The master logs a boot failure once, for every worker that hits it; this line is for
    // debugging the worker itself.
    this.log.debug({ err, phase }, `worker failed to boot (${phase}): ${fields.message}`);
    await this.send('boot-error', { phase, ...fields });
    return this.#exit(code);
  }

  #crashed(err: unknown): void {
    if (this.#stopping !== undefined) {
      this.log.fatal({ err }, 'uncaught exception while stopping; exiting now');
      void this.#exit(EXIT.CRASH);
      return;
    }
    this.log.fatal({ err }, 'uncaught exception; draining and exiting');
    void this.send('crashed', errorFields(err));
    void this.stop('drain', this.config.settings.gracefulTimeout * 1000, EXIT.CRASH);
  }

  /** Drains (or with `quit`, drops) the connections, runs shutdown hooks, exits. */
  stop(how: 'drain' | 'quit', gracefulTimeout: number, code: number = EXIT.OK): Promise<never> {
    this.#stopping ??= (async () => {
      const started = performance.now();
      // A worker stopped before it ever served (the master halts on a boot failure) says so only
      // at debug: the reason is in the master's log.
      const level = this.server === undefined ? 'debug' : 'info';
      this.log[level](
        {
          how,
          connections: this.server?.connections ?? 0,
          inflight: this.server?.inflight ?? 0,
          gracefulTimeoutMs: gracefulTimeout,
        },
        how === 'drain' ? 'worker draining' : 'worker quitting',
      );
      try {
        if (this.server !== undefined) {
          // Connections are forced closed a little before the master's deadline, leaving the
          // shutdown hooks time to run before the master kills the process.
          const reserve = Math.min(1000, gracefulTimeout / 4);
          if (how === 'drain') await this.server.close(gracefulTimeout - reserve);
          else await this.server.destroy();
        } else if (this.app !== undefined && how === 'drain') {
          await this.app.shutdown();
        }
      } catch (err) {
        this.log.error({ err }, 'shutdown failed');
      }
      for (const extension of workerExtensions) {
        try {
          await extension.close?.();
        } catch (err) {
          this.log.error({ err, extension: extension.name }, 'extension close failed');
        }
      }
      const stats = this.stats();
      this.log[level](
        { ms: Math.round(performance.now() - started), requests: stats.requests, shed: stats.shed },
        'worker stopped',
      );
      await this.#released(stats);
      return this.#exit(code);
    })();
    return this.#stopping;
  }

  /** Reports the final counters and waits until the master says no connection is on its way. */
  #released(stats: Heartbeat): Promise<void> {
    if (process.send === undefined || !process.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, 2000);
      const off = this.messages.on('release', done);
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
      void this.send('drained', stats);
    });
  }

  async #exit(code: number): Promise<never> {
    clearInterval(this.#heartbeat);
    clearInterval(this.#turns);
    await this.#watchdog?.stop().catch(() => {});
    this.#serverLog.flush();
    process.exit(code);
  }
}
