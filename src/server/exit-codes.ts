/**
 * Exit codes are a protocol between workers and the master, and between the master and whoever
 * started it. A worker that fails to boot says why with its code; the master halts on those
 * instead of starting the same broken worker forever, and exits with the same code.
 */
export const EXIT = {
  /** A clean stop (a worker that drained, a master that stopped on a signal). */
  OK: 0,
  /** An uncaught exception; the worker drained what it could first. Also: master internal error. */
  CRASH: 1,
  /** Bad command line or settings (the master never started). */
  USAGE: 2,
  /** A worker could not boot: a startup hook or an extension threw, or it died before ready. */
  BOOT_ERROR: 3,
  /** The application module failed to import, or the export is not an App. */
  APP_LOAD_ERROR: 4,
  /**
   * An address could not be bound: the service (`--bind`, in the master or, with
   * `--reuse-port`, in a worker) or the admin listener (`--admin`). Often temporary (the old
   * process still holds the port), unlike 3 and 4, so a supervisor may restart on it.
   */
  BIND_ERROR: 5,
} as const;

/** One of the exit codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
