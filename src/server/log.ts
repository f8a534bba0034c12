import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { LogFormat, LogLevel } from './settings/logging.ts';

/** Options of a process's log. */
export interface LogOptions {
  /** Least severe level written. */
  level: LogLevel;
  /** `auto` turns into pretty on a terminal, JSON otherwise. */
  format: LogFormat;
  /** `-` for stderr, or a file to append to. */
  file: string;
  /** Fields on every line (`role`, `worker`…). */
  bindings: Record<string, unknown>;
  /** Write synchronously (the master: its lines must survive a crash; volume is low). */
  sync?: boolean;
  /** Fields computed for each line when it is written (a worker's: the active trace's ids). */
  mixin?: () => Record<string, unknown>;
}

/** A process's log: the pino logger and the destination under it. */
export interface ServerLog {
  /** The logger. */
  readonly logger: Logger;
  /** The format in effect (`auto` resolved). */
  readonly format: 'json' | 'pretty';
  /** Reopens the log file (after rotation moved it); a no-op on stderr. */
  reopen(): void;
  /** Writes out anything buffered (call before exiting). */
  flush(): void;
}

/** The format `auto` means for a destination. */
export function resolveFormat(format: LogFormat, file: string): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return file === '-' && process.stderr.isTTY === true ? 'pretty' : 'json';
}

/** Creates the log of the master or a worker. */
export function createLog(options: LogOptions): ServerLog {
  const format = resolveFormat(options.format, options.file);
  const destination =
    options.file === '-'
      ? pino.destination({ fd: 2, sync: options.sync ?? false })
      : pino.destination({
          dest: options.file,
          append: true,
          mkdir: true,
          sync: options.sync ?? false,
        });
  let stream: DestinationStream = destination;
  if (format === 'pretty') {
    // PERF: loaded only when used; JSON logging (production) never pays for it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (
      options: PrettyOptions,
    ) => DestinationStream;
    stream = pretty({
      destination,
      sync: true,
      colorize: options.file === '-' && process.stderr.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      singleLine: true,
      ignore: 'hostname,pid,role,worker,generation',
      messageFormat: '{role}{if worker} {worker}{end} [{pid}] {msg}',
    });
  }
  const logger = pino(
    {
      level: options.level,
      // Numeric levels are pino's default; collectors read names more easily.
      formatters: format === 'json' ? { level: (label) => ({ level: label }) } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(options.mixin === undefined ? {} : { mixin: options.mixin }),
    },
    stream,
  ).child(options.bindings);
  return {
    logger,
    format,
    reopen() {
      if (options.file !== '-') destination.reopen();
    },
    flush() {
      try {
        destination.flushSync();
      } catch {
        // Nothing buffered, or the destination is gone; either way there is nothing to save.
      }
    },
  };
}
