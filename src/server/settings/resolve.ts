import type { ParseArgsOptionsConfig } from 'node:util';
import {
  SETTINGS,
  type ServerSettings,
  type SettingKey,
  type SettingSources,
  settingList,
} from './all.ts';
import { loadConfigFile } from './config-file.ts';
import { formatAddresses } from './listening.ts';
import {
  camelName,
  envName,
  formatAddress,
  isLoopback,
  type Setting,
  SettingError,
  type SettingSource,
} from './setting.ts';
import { didYouMean } from './suggest.ts';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { parseArgs } = process.getBuiltinModule('node:util');

/** Raw command-line values: strings (arrays for repeatable flags) and booleans. */
export type CliValues = Partial<Record<SettingKey, string | string[] | boolean>>;

/** What settings are resolved from. */
export interface SettingsInput {
  /** Values given on the command line (strongest). */
  cli?: CliValues;
  /** The environment (`PEREGRINE_*`, and `PORT` for the default bind). */
  env?: NodeJS.ProcessEnv;
}

/** Resolved settings with the source of each value. */
export interface ResolvedSettings {
  /** The values. */
  settings: ServerSettings;
  /** Where each value came from. */
  sources: SettingSources;
}

/** The `util.parseArgs` options of every setting (for `peregrine serve`). */
export function settingOptions(): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = {};
  for (const [, s] of settingList()) {
    options[s.name] = {
      type: s.kind === 'boolean' ? 'boolean' : 'string',
      ...(s.short === undefined ? {} : { short: s.short }),
      ...(s.repeatable ? { multiple: true } : {}),
    };
  }
  return options;
}

/** The result of reading a command line: settings flags, other flags and positionals. */
export interface CommandLine {
  /** Setting values by key. */
  cli: CliValues;
  /** Flags that are not settings (`--help`, `--print-config`…). */
  flags: Record<string, boolean>;
  /** Positional arguments. */
  positionals: string[];
}

/** Reads a command line against the settings plus extra boolean flags; throws SettingError. */
export function parseCommandLine(
  argv: readonly string[],
  extraFlags: Record<string, { short?: string }> = {},
): CommandLine {
  const options = settingOptions();
  for (const [name, o] of Object.entries(extraFlags)) {
    options[name] = { type: 'boolean', ...(o.short === undefined ? {} : { short: o.short }) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
  } catch (err) {
    throw new SettingError(unknownOptionMessage(err, options) ?? (err as Error).message);
  }
  const cli: CliValues = {};
  const flags: Record<string, boolean> = {};
  const byName = new Map(settingList().map(([key, s]) => [s.name, key]));
  for (const [name, value] of Object.entries(parsed.values)) {
    const key = byName.get(name);
    if (key !== undefined) cli[key] = value as string | string[] | boolean;
    else flags[name] = value === true;
  }
  return { cli, flags, positionals: parsed.positionals };
}

/**
 * `unknown option --wrokers; did you mean --workers?` for parseArgs' unknown-option error (its
 * own text suggests quoting the word as a positional argument, which is never what was meant).
 */
export function unknownOptionMessage(
  err: unknown,
  options: ParseArgsOptionsConfig,
): string | undefined {
  if ((err as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined;
  const option = /Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
  if (option === undefined) return undefined;
  if (!option.startsWith('--')) {
    const shorts = Object.entries(options).flatMap(([name, o]) =>
      o.short === undefined ? [] : [`-${o.short} (--${name})`],
    );
    return `unknown option ${option} (short options: ${shorts.join(', ')})`;
  }
  const word = option.slice(2).split('=')[0]!;
  const names = Object.entries(options).flatMap(([name, o]) =>
    o.type === 'boolean' ? [name, `no-${name}`] : [name],
  );
  return `unknown option --${word}${didYouMean(word, names, '--')}`;
}

function fromText(key: string, s: Setting, text: string, origin: string): unknown {
  try {
    return s.parse(text);
  } catch (err) {
    throw new SettingError(`${origin} (${key}): ${(err as Error).message}`);
  }
}

/** Converts a config-file value (JSON types, or strings parsed like flags). */
function fromConfig(key: string, s: Setting, raw: unknown): unknown {
  const origin = `config key "${key}"`;
  if (typeof raw === 'string') return fromText(key, s, raw, origin);
  if (Array.isArray(raw) && (s.repeatable || s.kind === 'list')) {
    return raw.flatMap((item) => {
      if (typeof item !== 'string') throw new SettingError(`${origin}: expected strings`);
      return fromText(key, s, item, origin) as unknown[];
    });
  }
  switch (s.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      break;
    case 'integer':
      if (Number.isInteger(raw)) return raw;
      break;
    case 'number':
    case 'seconds':
    case 'bytes':
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      break;
    case 'address':
    case 'string':
      if (raw === null || raw === false) return s.parse('');
      break;
    default:
      break;
  }
  throw new SettingError(`${origin}: ${JSON.stringify(raw)} is not a valid ${s.kind}`);
}

function fromCli(key: string, s: Setting, raw: string | string[] | boolean): unknown {
  const origin = `--${s.name}`;
  if (typeof raw === 'boolean') return raw;
  if (Array.isArray(raw)) {
    return raw.flatMap((item) => fromText(key, s, item, origin) as unknown[]);
  }
  return fromText(key, s, raw, origin);
}

/** Checks relations between settings; returns the problems found. */
function crossCheck(v: ServerSettings): string[] {
  const problems: string[] = [];
  if (v.workers === 'auto') {
    if (v.maxWorkers > 0 && v.maxWorkers < v.minWorkers) {
      problems.push('--max-workers must not be below --min-workers');
    }
    if (v.scaleDownUtilization >= v.scaleUpUtilization) {
      problems.push('--scale-down-utilization must be below --scale-up-utilization');
    }
  }
  if (v.receiveTimeout > 0 && v.headersTimeout > v.receiveTimeout) {
    problems.push('--headers-timeout must not exceed --receive-timeout');
  }
  if (v.admin !== null && 'port' in v.admin) {
    for (const b of v.bind) {
      if ('port' in b && b.port !== 0 && b.port === v.admin.port && b.host === v.admin.host) {
        problems.push(`--admin ${formatAddress(v.admin)} is also a --bind address`);
      }
    }
  }
  if (v.admin !== null && !isLoopback(v.admin) && v.adminToken === null) {
    problems.push(
      `--admin ${formatAddress(v.admin)} is not a loopback address: the dashboard and /api/* need --admin-token (or PEREGRINE_ADMIN_TOKEN)`,
    );
  }
  if (v.adminProtectMetrics && v.adminToken === null) {
    problems.push('--admin-protect-metrics needs --admin-token');
  }
  return problems;
}

/**
 * Resolves every setting: default < config file < `PEREGRINE_*` environment < command line.
 * Every problem is reported at once in one SettingError.
 */
export async function resolveSettings(input: SettingsInput = {}): Promise<ResolvedSettings> {
  const env = input.env ?? process.env;
  const cli = input.cli ?? {};
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  for (const [key, s] of settingList()) {
    values[key] = s.default(env);
    sources[key] = 'default';
  }
  const apply = (key: SettingKey, source: SettingSource, get: () => unknown) => {
    try {
      values[key] = get();
      sources[key] = source;
    } catch (err) {
      problems.push((err as Error).message);
    }
  };
  // The config file is named on the command line or in the environment, never by itself.
  for (const source of ['env', 'cli'] as const) {
    if (source === 'env' && env[envName('config')] !== undefined) {
      apply('config', 'env', () =>
        fromText('config', SETTINGS.config as Setting, env[envName('config')]!, 'env'),
      );
    }
    if (source === 'cli' && cli.config !== undefined) {
      apply('config', 'cli', () => fromCli('config', SETTINGS.config as Setting, cli.config!));
    }
  }
  const configPath = values.config as string | null;
  if (configPath !== null) {
    try {
      const file = await loadConfigFile(configPath, env);
      const byName = new Map<string, [SettingKey, Setting]>();
      for (const [key, s] of settingList()) {
        byName.set(key, [key, s]);
        byName.set(s.name, [key, s]);
        byName.set(camelName(s.name), [key, s]);
      }
      for (const [name, raw] of Object.entries(file)) {
        const found = byName.get(name);
        if (found === undefined) {
          const hint = didYouMean(
            name,
            [...byName.keys()].filter((k) => k === camelName(k)),
          );
          problems.push(`config file ${configPath}: unknown setting "${name}"${hint}`);
          continue;
        }
        const [key, s] = found;
        if (key === 'config') {
          problems.push(`config file ${configPath}: "config" cannot be set inside a config file`);
          continue;
        }
        apply(key, 'config', () => fromConfig(name, s, raw));
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  for (const [key, s] of settingList()) {
    if (key === 'config') continue;
    const text = env[envName(s.name)];
    if (text !== undefined) apply(key, 'env', () => fromText(envName(s.name), s, text, 'env'));
  }
  for (const [key, s] of settingList()) {
    if (key === 'config') continue;
    const raw = cli[key];
    if (raw !== undefined) apply(key, 'cli', () => fromCli(key, s, raw));
  }
  for (const [key, s] of settingList()) {
    const message = s.validate?.(values[key] as never);
    if (message !== undefined) problems.push(`--${s.name} (from ${sources[key]}): ${message}`);
  }
  const settings = values as ServerSettings;
  if (problems.length === 0) problems.push(...crossCheck(settings));
  if (problems.length > 0) {
    throw new SettingError(
      problems.length === 1 ? problems[0]! : `invalid settings:\n  ${problems.join('\n  ')}`,
    );
  }
  return { settings, sources: sources as SettingSources };
}

/** A setting's value as a config file would spell it (addresses as strings). */
export function configValue(key: SettingKey, value: unknown): unknown {
  const s = SETTINGS[key] as Setting;
  if (value === null) return null;
  if (s.kind === 'address') {
    if (Array.isArray(value)) return value.map((a) => formatAddress(a));
    return formatAddress(value as Parameters<typeof formatAddress>[0]);
  }
  return value;
}

/** The settings as a config-file object (what `--print-config` prints; `config` itself left out). */
export function toConfigObject(settings: ServerSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key] of settingList()) {
    if (key === 'config') continue;
    // The token is a secret: printed config files say that one is set, never what it is.
    out[key] =
      key === 'adminToken' && settings[key] !== null
        ? '<redacted>'
        : configValue(key, settings[key]);
  }
  return out;
}

/** A setting's value as text for help and logs. */
export function describeValue(key: SettingKey, value: unknown): string {
  const s = SETTINGS[key] as Setting;
  if (value === null) return 'none';
  if (key === 'adminToken') return '<redacted>';
  if (s.kind === 'address' && Array.isArray(value)) return formatAddresses(value);
  const v = configValue(key, value);
  return Array.isArray(v) ? v.join(',') : String(v);
}
