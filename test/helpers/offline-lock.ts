/**
 * A package-lock.json for a throw-away project, cut from this repository's lock, so `npm ci
 * --offline` can install it from the npm cache alone. `npm ci` here fetches tarballs by integrity
 * and never the registry's version lists (packuments), so a plain `npm install --offline` of a
 * range fails with ENOTCACHED on a cache that only `npm ci` warmed (CI's case); a lock that names
 * the exact versions the repository already installed does not need them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

/** One entry of `packages` in a v3 lockfile. */
export interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

/** The fields of a package.json the lock's root entry repeats. */
export interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** A package that is not in the repository's lock (the packed tarball). */
export interface LocalTarball {
  /** The tarball, as the project's package.json names it (`file:…`, relative to the project). */
  spec: string;
  /** The tarball's path on disk (for its integrity). */
  path: string;
  /** Its package.json. */
  manifest: Manifest & Record<string, unknown>;
}

/** Where `name`, required from the package at `from`, is installed (Node's lookup upwards). */
function locate(packages: Record<string, LockEntry>, from: string, name: string): string | null {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (dir === '') return null;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut === -1 ? '' : dir.slice(0, cut);
  }
}

/**
 * The lock for a project with `manifest`: every package its dependencies reach in `repoLock`
 * (same paths, versions and integrity, so the hoisted tree stays valid), plus the local tarballs
 * at `node_modules/<name>`. Throws if a required package is not in the repository's lock.
 */
export function offlineLock(
  manifest: Manifest,
  repoLockPath: string,
  tarballs: readonly LocalTarball[] = [],
): Record<string, unknown> {
  const repo = JSON.parse(readFileSync(repoLockPath, 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, LockEntry> = { ...repo.packages };
  delete packages[''];
  for (const t of tarballs) {
    const integrity = `sha512-${createHash('sha512').update(readFileSync(t.path)).digest('base64')}`;
    const m = t.manifest as LockEntry & Manifest;
    packages[`node_modules/${m.name}`] = {
      version: m.version,
      resolved: t.spec,
      integrity,
      ...(m.license === undefined ? {} : { license: m.license }),
      ...(m.dependencies === undefined ? {} : { dependencies: m.dependencies }),
      ...(m.optionalDependencies === undefined
        ? {}
        : { optionalDependencies: m.optionalDependencies }),
      ...(m.bin === undefined ? {} : { bin: m.bin }),
      ...(m.engines === undefined ? {} : { engines: m.engines }),
    };
  }
  const out: Record<string, LockEntry> = {
    '': {
      name: manifest.name,
      version: manifest.version,
      ...(manifest.dependencies === undefined ? {} : { dependencies: manifest.dependencies }),
      ...(manifest.devDependencies === undefined
        ? {}
        : { devDependencies: manifest.devDependencies }),
    },
  };
  const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
  const queue: Array<{ from: string; name: string; optional: boolean; dev: boolean }> = [];
  for (const name of Object.keys(manifest.dependencies ?? {}))
    queue.push({ from: '', name, optional: false, dev: false });
  for (const name of dev) queue.push({ from: '', name, optional: false, dev: true });
  const devOnly = new Map<string, boolean>();
  while (queue.length > 0) {
    const edge = queue.shift()!;
    const at = locate(packages, edge.from, edge.name);
    if (at === null) {
      if (edge.optional) continue;
      throw new Error(
        `${edge.name} (needed by ${edge.from || manifest.name}) is not in ${repoLockPath}`,
      );
    }
    const seenDev = devOnly.get(at);
    if (seenDev !== undefined && (seenDev === false || edge.dev)) continue;
    devOnly.set(at, edge.dev);
    const entry = packages[at]!;
    out[at] = entry;
    const peerOptional = entry.peerDependenciesMeta ?? {};
    for (const name of Object.keys(entry.dependencies ?? {}))
      queue.push({ from: at, name, optional: false, dev: edge.dev });
    for (const name of Object.keys(entry.optionalDependencies ?? {}))
      queue.push({ from: at, name, optional: true, dev: edge.dev });
    for (const name of Object.keys(entry.peerDependencies ?? {}))
      queue.push({
        from: at,
        name,
        optional: peerOptional[name]?.optional === true,
        dev: edge.dev,
      });
  }
  // The dev flag follows this project's tree, not the repository's.
  for (const [at, isDev] of devOnly) {
    const { dev: _dev, devOptional: _devOptional, ...rest } = out[at]!;
    out[at] = isDev
      ? { ...rest, dev: true }
      : rest.optional === true
        ? { ...rest, optional: true }
        : rest;
  }
  const sorted = Object.fromEntries(
    Object.entries(out).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
  );
  return {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: sorted,
  };
}

/** A `file:` spec for `target` as seen from the project directory `project`. */
export function fileSpec(project: string, target: string): string {
  const rel = posix.relative(project, target);
  return `file:${rel}`;
}
