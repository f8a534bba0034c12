import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { App } from '../../app/app.ts';
import { AppLoadError, explainImportFailure } from './load-error.ts';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { existsSync } = process.getBuiltinModule('node:fs');

export { AppLoadError };

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
    const near = ['.ts', '.js', '.mts', '.mjs'].find((ext) => existsSync(path + ext));
    const hint =
      near !== undefined
        ? `: did you mean ${module}${near}?`
        : isAbsolute(module)
          ? ''
          : ` (a relative path starts from the working directory, ${cwd})`;
    throw new AppLoadError(
      `cannot find the App module "${module}": there is no file ${path}${hint}`,
    );
  }
  return module;
}

/**
 * Imports the application module and returns its App. The export may also be a function
 * (sync or async) that builds the App. Every failure is an AppLoadError whose message names the
 * file and line and the fix.
 */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<App> {
  const ref = parseAppReference(spec);
  const url = moduleUrl(ref.module, cwd);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    if (
      !url.startsWith('file:') &&
      (err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' &&
      String((err as Error).message).includes(`'${ref.module}'`)
    ) {
      throw new AppLoadError(
        `cannot find the App module "${ref.module}": no such file in ${cwd}, and no installed package of that name`,
      );
    }
    throw explainImportFailure(
      err,
      ref.module,
      url.startsWith('file:') ? fileURLToPath(url) : ref.module,
    );
  }
  const fix = `Export the App: \`export default app\` (or name its export: ${ref.module}:api).`;
  if (!(ref.exportName in mod)) {
    const named = Object.keys(mod).filter((k) => isApp(mod[k]));
    if (named.length > 0) {
      throw new AppLoadError(
        `"${ref.module}" has no export "${ref.exportName}" (Apps exported: ${named.join(', ')}): serve ${ref.module}:${named[0]}`,
      );
    }
    throw new AppLoadError(`"${ref.module}" has no export "${ref.exportName}". ${fix}`);
  }
  let value = mod[ref.exportName];
  if (typeof value === 'function' && !isApp(value)) {
    try {
      value = await (value as () => unknown)();
    } catch (err) {
      throw explainImportFailure(err, `${ref.module} (export "${ref.exportName}")`, ref.module);
    }
  }
  if (!isApp(value)) {
    const kind = value === null ? 'null' : typeof value;
    throw new AppLoadError(
      `export "${ref.exportName}" of "${ref.module}" is not a Peregrine App (it is ${kind}). ${fix}`,
    );
  }
  return value;
}

/**
 * What to print for a failed `loadApp`: the message of an AppLoadError (it names the file, line
 * and fix), the stack of anything else (a bug in Peregrine, worth its frames).
 */
export function loadFailure(err: unknown): string {
  if (err instanceof AppLoadError) return err.message;
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
