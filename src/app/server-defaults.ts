import type { Logger } from './logger.ts';

/**
 * Defaults that a server (`peregrine serve`) sets for the Apps built in its process, before it
 * imports the application module. An option the App is constructed with always wins.
 */
export interface ServerDefaults {
  /** The logger (the worker's, so App logs share its format, level and destination). */
  logger?: Logger;
  /** Trusted proxies (`--trusted-proxies`). */
  trustedProxies?: readonly string[];
  /** Per-request deadline in ms (`--request-timeout`). */
  requestTimeout?: number;
  /** Default body limit in bytes (`--body-limit`). */
  bodyLimit?: number;
}

// A global symbol rather than a module variable: the CLI and the application may load two copies
// of this package (a global install and a local one), and both must see the same defaults.
const KEY = Symbol.for('peregrine.serverDefaults');

/** Sets (or with `undefined`, clears) the server defaults of this process. */
export function setServerDefaults(defaults: ServerDefaults | undefined): void {
  (globalThis as Record<symbol, unknown>)[KEY] = defaults;
}

/** The server defaults of this process (empty outside a server). */
export function serverDefaults(): ServerDefaults {
  return ((globalThis as Record<symbol, unknown>)[KEY] as ServerDefaults | undefined) ?? {};
}
