/**
 * A server setting is data: one declaration gives the command-line flag, the environment variable,
 * the config-file key, the parser, the validator, the default and the documentation. Everything
 * else (CLI help, env parsing, `--print-config`, docs/settings.md) is generated from these.
 */

/** Where a setting's value came from, weakest first. */
export type SettingSource = 'default' | 'config' | 'env' | 'cli';

/** The kinds of value a setting holds (they decide the parser and how the CLI reads the flag). */
export type SettingKind =
  | 'string'
  | 'integer'
  | 'number'
  | 'seconds'
  | 'bytes'
  | 'boolean'
  | 'enum'
  | 'address'
  | 'list';

/** The declaration of one setting. */
export interface Setting<T = unknown> {
  /** Kebab-case name; the flag is `--name`, the env var `PEREGRINE_NAME`. */
  readonly name: string;
  /** A one-letter alias (`-w`). */
  readonly short?: string;
  /** The section it is documented under. */
  readonly section: string;
  /** What kind of value it holds. */
  readonly kind: SettingKind;
  /** The placeholder in help text (`N`, `HOST:PORT`, `SECONDS`). */
  readonly meta?: string;
  /** May the flag be given more than once (values accumulate). */
  readonly repeatable?: boolean;
  /** Allowed values of an `enum` setting. */
  readonly choices?: readonly string[];
  /** The default, computed when settings are resolved (so `$PORT` and the core count apply). */
  readonly default: (env: NodeJS.ProcessEnv) => T;
  /** How the default reads in the docs, when the computed value depends on the machine. */
  readonly defaultDoc?: string;
  /** Converts a string (flag or env var) to the value; throws a SettingError on bad input. */
  readonly parse: (text: string) => T;
  /** Checks a value from any source; returns a message when it is invalid. */
  readonly validate?: (value: T) => string | undefined;
  /** Only the master uses it (a reload cannot change it). */
  readonly masterOnly?: boolean;
  /** One or two sentences for `--help` and docs/settings.md. */
  readonly doc: string;
}

/** A bad setting value or an unknown setting. */
export class SettingError extends Error {
  override name = 'SettingError';
}

/** The env var of a setting: `max-requests` → `PEREGRINE_MAX_REQUESTS`. */
export function envName(name: string): string {
  return `PEREGRINE_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** The config-file key of a setting: `max-requests` → `maxRequests`. */
export function camelName(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Parses a whole number (underscores allowed: `10_000`). */
export function parseInteger(text: string): number {
  const t = text.trim().replaceAll('_', '');
  if (!/^-?\d+$/.test(t)) throw new SettingError(`"${text}" is not a whole number`);
  return Number(t);
}

/** Parses a decimal number. */
export function parseNumber(text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) throw new SettingError(`"${text}" is not a number`);
  return n;
}

const TIME_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Parses a duration in seconds: `30`, `0.5`, `500ms`, `2m`. */
export function parseSeconds(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) throw new SettingError(`"${text}" is not a duration (seconds, or 500ms, 2m)`);
  return Number(m[1]) * TIME_UNITS[m[2] ?? 's']!;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parses a size in bytes: `16384`, `16k`, `1MiB` (units are powers of 1024). */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    throw new SettingError(`"${text}" is not a size (bytes, or 16k, 1MiB)`);
  }
  return Math.round(Number(m[1]) * unit);
}

/** Parses a boolean: 1/0, true/false, yes/no, on/off. */
export function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  throw new SettingError(`"${text}" is not a boolean (true/false, 1/0, yes/no, on/off)`);
}

/** Splits a comma-separated list, dropping empty entries. */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A listening address: TCP host and port, or a Unix socket path. */
export type Address = { host: string; port: number } | { path: string };

/** Parses `HOST:PORT`, `[IPV6]:PORT`, `:PORT` (all interfaces), `PORT` or `unix:PATH`. */
export function parseAddress(text: string): Address {
  const t = text.trim();
  if (t.startsWith('unix:')) {
    const path = t.slice(5);
    if (path === '') throw new SettingError(`"${text}" has no socket path`);
    return { path };
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (/^\d+$/.test(t)) {
    host = '0.0.0.0';
    portText = t;
  } else {
    const colon = t.lastIndexOf(':');
    if (colon < 0 || t.indexOf(':') !== colon) {
      throw new SettingError(`"${text}" is not HOST:PORT, [IPV6]:PORT or unix:PATH`);
    }
    host = t.slice(0, colon) || '0.0.0.0';
    portText = t.slice(colon + 1);
  }
  if (!/^\d+$/.test(portText)) throw new SettingError(`"${text}" has no valid port`);
  const port = Number(portText);
  if (port > 65535) throw new SettingError(`"${text}": port ${port} is out of range`);
  return { host, port };
}

/** Whether an address is reachable from this machine only (127.0.0.0/8, ::1, a Unix socket). */
export function isLoopback(address: Address): boolean {
  if ('path' in address) return true;
  const h = address.host.toLowerCase();
  return (
    h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1'
  );
}

/** Renders an address the way it is written on the command line. */
export function formatAddress(address: Address): string {
  if ('path' in address) return `unix:${address.path}`;
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** Builds a validator that checks a number lies in a range. */
export function range(
  min: number,
  max = Number.POSITIVE_INFINITY,
): (v: number) => string | undefined {
  return (v) => {
    if (!Number.isFinite(v) && v !== Number.POSITIVE_INFINITY) return 'must be a number';
    if (v < min) return `must be at least ${min}`;
    if (v > max) return `must be at most ${max}`;
    return undefined;
  };
}

/** Declares a setting, checking the declaration itself (names are kebab-case). */
export function setting<T>(declaration: Setting<T>): Setting<T> {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(declaration.name)) {
    throw new Error(`setting name "${declaration.name}" is not kebab-case`);
  }
  return declaration;
}

/** Parses one of a fixed list of words (case-insensitive). */
export function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    const t = text.trim().toLowerCase();
    if (!(choices as readonly string[]).includes(t)) {
      throw new SettingError(`"${text}" is not one of ${choices.join(', ')}`);
    }
    return t as T;
  };
}
