import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The root of this package (where package.json, templates/ and, when shipped, deploy/ are). */
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The template `peregrine new` copies (templates/service in the package). */
const TEMPLATE = join(PACKAGE_ROOT, 'templates', 'service');

/** Template files whose names npm would drop or act on if they were published as is. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: '.gitignore' };

interface PackageJson {
  name: string;
  version: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean | string>;
}

function readJson(path: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** This package's package.json. */
export function ownPackage(): PackageJson {
  return readJson(join(PACKAGE_ROOT, 'package.json'))!;
}

/** npm's rules for a package name, short of the registry's checks. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Why `name` cannot be an npm package name, or undefined if it can. */
export function invalidPackageName(name: string): string | undefined {
  if (name.length > 214) return 'it is longer than 214 characters';
  if (!PACKAGE_NAME.test(name)) {
    return 'npm package names are lower-case letters, digits and - . _ ~, not starting with . or _';
  }
  return undefined;
}

/** A valid name close to `name` (for the error message). */
export function suggestPackageName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-._~]+/g, '-')
    .replace(/^[-._]+|-+$/g, '');
  return s === '' ? 'my-service' : s.slice(0, 214);
}

/** `file:` + the path of `target` as seen from `from` (forward slashes, as npm writes them). */
function fileSpec(from: string, target: string): string {
  const rel = relative(from, target).split(sep).join('/');
  return `file:${rel === '' ? '.' : rel}`;
}

/** Whether a dependency spec names something on disk (a tarball or a folder). */
function isLocal(spec: string): boolean {
  return (
    spec.startsWith('file:') || spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec)
  );
}

/** A local spec written relative to `base`, rewritten for a project in `project`. */
function rebase(spec: string, base: string, project: string): string {
  if (!isLocal(spec)) return spec;
  const path = spec.startsWith('file:') ? spec.slice('file:'.length) : spec;
  return fileSpec(project, resolve(base, path));
}

/**
 * How the new project's package.json names `peregrine`: the way this running copy was installed,
 * so a project made from a tarball, a git URL or a tag gets the same thing. `explicit`
 * (`--peregrine-spec`) wins; local paths in it are relative to the working directory.
 * Installed in a project's node_modules (npx installs into one as well): that project's spec.
 * Elsewhere (a global install): `^VERSION`. A checkout of the repository: a link to it.
 */
export function peregrineSpec(project: string, explicit?: string): string {
  if (explicit !== undefined) return rebase(explicit, process.cwd(), project);
  const own = ownPackage();
  const parent = dirname(PACKAGE_ROOT);
  if (basename(parent) !== 'node_modules') {
    return existsSync(join(PACKAGE_ROOT, '.git'))
      ? fileSpec(project, PACKAGE_ROOT)
      : `^${own.version}`;
  }
  const installer = dirname(parent);
  const pkg = readJson(join(installer, 'package.json'));
  const spec =
    pkg?.dependencies?.[own.name] ??
    pkg?.devDependencies?.[own.name] ??
    pkg?.optionalDependencies?.[own.name];
  return spec === undefined ? `^${own.version}` : rebase(spec, installer, project);
}

/** The new project's package.json. */
export function projectPackage(name: string, spec: string): Record<string, unknown> {
  const own = ownPackage();
  const dev = own.devDependencies ?? {};
  // Install scripts this package's own tree needs (npm 12 runs only allowed ones): `node` must
  // run its own to fetch the binary; better-sqlite3 ships prebuilt binaries and needs none.
  const allowScripts: Record<string, boolean | string> = {};
  for (const [pkg, allowed] of Object.entries(own.allowScripts ?? {})) {
    if (pkg === 'node' || own.dependencies?.[pkg] !== undefined) allowScripts[pkg] = allowed;
  }
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: own.engines?.node ?? '^22.14.0 || >=23.6.0' },
    scripts: {
      start: 'peregrine serve app.ts',
      dev: 'peregrine dev app.ts',
      test: 'tsc && node --test',
    },
    dependencies: { [own.name]: spec },
    devDependencies: {
      '@types/node': dev['@types/node'] ?? '^24',
      node: dev.node ?? '^24',
      typescript: dev.typescript ?? '^5',
    },
    allowScripts,
  };
}

/** Why `dir` cannot receive a new project, or undefined if it can (absent, or an empty folder). */
export function occupied(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return `${dir} exists and is not a folder`;
  }
  return entries.length === 0 ? undefined : `${dir} exists and is not empty`;
}

/**
 * Deployment files for the new project. The scale-out work ships them in the package's
 * `deploy/` (load balancer, Kubernetes, Prometheus): when that folder is in the package, the
 * project gets a copy; until then there is nothing to copy.
 */
function copyDeployFiles(dir: string): string[] {
  const source = join(PACKAGE_ROOT, 'deploy');
  if (!existsSync(source)) return [];
  cpSync(source, join(dir, 'deploy'), { recursive: true, errorOnExist: true, force: false });
  return ['deploy/'];
}

/** Writes a new service into `dir` (which must be absent or empty); returns the files written. */
export function scaffold(dir: string, name: string, spec: string): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const file of readdirSync(TEMPLATE).sort()) {
    const target = RENAMED[file] ?? file;
    const text = readFileSync(join(TEMPLATE, file), 'utf8').replaceAll('{{name}}', name);
    writeFileSync(join(dir, target), text, { flag: 'wx' });
    written.push(target);
  }
  const pkg = `${JSON.stringify(projectPackage(name, spec), null, 2)}\n`;
  writeFileSync(join(dir, 'package.json'), pkg, { flag: 'wx' });
  written.push('package.json', ...copyDeployFiles(dir));
  return written;
}
