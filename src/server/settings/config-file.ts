import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SettingError, setting } from './setting.ts';

/** The settings that say where the configuration and the App come from. */
export const configSettings = {
  config: setting<string | null>({
    name: 'config',
    short: 'c',
    section: 'Configuration',
    kind: 'string',
    meta: 'FILE',
    default: () => null,
    defaultDoc: 'none',
    parse: (text) => (text.trim() === '' ? null : text),
    masterOnly: true,
    doc: 'A config file: JSON, or a JavaScript/TypeScript module whose default export is an object (or a function of the environment returning one). Keys are the setting names in camelCase or kebab-case. The command line and `PEREGRINE_*` variables override it; `HUP` reads it again.',
  }),
  app: setting<string | null>({
    name: 'app',
    section: 'Configuration',
    kind: 'string',
    meta: 'MODULE[:EXPORT]',
    default: () => null,
    defaultDoc: 'none (the command-line argument)',
    parse: (text) => (text.trim() === '' ? null : text.trim()),
    masterOnly: true,
    doc: 'The module to serve and, after a colon, the export holding the App (default: the default export). The positional argument of `peregrine serve` sets it.',
  }),
} as const;

/** Reads a config file into a plain object (a fresh import each time, so `HUP` sees edits). */
export async function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, unknown>> {
  const file = resolve(path);
  let value: unknown;
  if (extname(file) === '.json') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new SettingError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new SettingError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    let mod: { default?: unknown };
    try {
      // A query string defeats the ESM cache so a reload reads the edited file.
      mod = (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as { default?: unknown };
    } catch (err) {
      throw new SettingError(`cannot load config module ${path}: ${(err as Error).message}`);
    }
    value = mod.default;
    if (typeof value === 'function')
      value = await (value as (e: NodeJS.ProcessEnv) => unknown)(env);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SettingError(`config file ${path} must hold an object of settings`);
  }
  return value as Record<string, unknown>;
}
