import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from '../../app/app.ts';

/** The application module could not be loaded, or it does not export an App. */
export class AppLoadError extends Error {
  override name = 'AppLoadError';
}

/** A `MODULE[:EXPORT]` reference split in two. */
export interface AppReference {
  /** The module: a file path (relative to the working directory) or a package name. */
  module: string;
  /** The export holding the App (`default` unless named). */
  exportName: string;
}

/** Splits `MODULE[:EXPORT]`; the export must be an identifier, so `C:\…` paths stay whole. */
export function parseAppReference(spec: string): AppReference {
  const colon = spec.lastIndexOf(':');
  if (colon > 0) {
    const name = spec.slice(colon + 1);
    if (/^[A-Za-z_$][\w$]*$/.test(name)) return { module: spec.slice(0, colon), exportName: name };
  }
  return { module: spec, exportName: 'default' };
}

/** Whether a value looks like a Peregrine App (duck-typed: two copies of the package may meet). */
export function isApp(value: unknown): value is App {
  const v = value as Partial<Record<keyof App, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.handle === 'function' &&
    typeof v.startup === 'function' &&
    typeof v.shutdown === 'function' &&
    typeof v.checkReadiness === 'function'
  );
}

/** The URL to import for a module reference, resolved against `cwd`. */
export function moduleUrl(module: string, cwd = process.cwd()): string {
  const path = isAbsolute(module) ? module : resolve(cwd, module);
  if (existsSync(path)) return pathToFileURL(path).href;
  // A path (relative, absolute, or with a script extension) that is not there; otherwise a package.
  if (module.startsWith('.') || isAbsolute(module) || /\.[cm]?[jt]s$/.test(module)) {
    throw new AppLoadError(`cannot find module "${module}" (looked at ${path})`);
  }
  return module;
}

/**
 * Imports the application module and returns its App. The export may also be a function
 * (sync or async) that builds the App.
 */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<App> {
  const ref = parseAppReference(spec);
  const url = moduleUrl(ref.module, cwd);
  const mod = (await import(url)) as Record<string, unknown>;
  if (!(ref.exportName in mod)) {
    const named = Object.keys(mod).filter((k) => isApp(mod[k]));
    const hint = named.length > 0 ? ` (Apps exported: ${named.join(', ')})` : '';
    throw new AppLoadError(`"${ref.module}" has no export "${ref.exportName}"${hint}`);
  }
  let value = mod[ref.exportName];
  if (typeof value === 'function' && !isApp(value)) value = await (value as () => unknown)();
  if (!isApp(value)) {
    const kind = value === null ? 'null' : typeof value;
    throw new AppLoadError(
      `export "${ref.exportName}" of "${ref.module}" is not a Peregrine App (it is ${kind})`,
    );
  }
  return value;
}
