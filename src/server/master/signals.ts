/** The signals the master obeys (DESIGN.md §3). */
export const MASTER_SIGNALS = [
  'SIGHUP',
  'SIGTERM',
  'SIGINT',
  'SIGQUIT',
  'SIGTTIN',
  'SIGTTOU',
  'SIGUSR1',
] as const satisfies readonly NodeJS.Signals[];

/** A signal the master obeys. */
export type MasterSignal = (typeof MASTER_SIGNALS)[number];

/**
 * Installs handlers that only hand the signal on (to the master's queue); returns a function
 * that removes them. Doing the work inside a signal handler is how Gunicorn got re-entrancy bugs.
 */
export function installSignals(enqueue: (signal: MasterSignal) => void): () => void {
  const handlers = MASTER_SIGNALS.map((signal) => {
    const handler = () => enqueue(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  };
}
