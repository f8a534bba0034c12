/**
 * The public surface of the package: every subpath in package.json `exports` and every name it
 * exports, with its kind, read from the type declarations as they are published (tsc with
 * tsconfig.build.json, so `@internal` members are stripped as in dist/). `npm run docs:api`
 * writes docs/api.md; a test fails when an export appears or disappears without that file
 * changing.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One exported name. */
export interface ApiName {
  readonly name: string;
  /** class, function, const, interface, type, enum, namespace (joined when declarations merge). */
  readonly kind: string;
  /** Exported with `export type`: no value at runtime. */
  readonly typeOnly: boolean;
  /** Marked `@deprecated` where it is declared or exported. */
  readonly deprecated: boolean;
}

/** One public subpath (`peregrine`, `peregrine/db`, …) and what it exports. */
export interface ApiEntry {
  readonly subpath: string;
  readonly names: readonly ApiName[];
}

/** Writes the declarations of src/ into `outDir` as the build would publish them. */
export function emitDeclarations(outDir: string): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(
    process.execPath,
    [
      tsc,
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--emitDeclarationOnly',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
      '--outDir',
      outDir,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
}

interface Declared {
  readonly kinds: ReadonlySet<string>;
  readonly typeOnly: boolean;
  readonly deprecated: boolean;
}

type Exports = Map<string, Declared>;

const DECLARATION =
  /^(export\s+)?(?:declare\s+)?(?:abstract\s+)?(class|function|interface|type|const|let|var|enum|namespace)\s+([A-Za-z_$][\w$]*)/;

// Stands for a removed comment that said `@deprecated`, in front of what it documents.
const DEPRECATED = '@deprecated ';

/**
 * The statements of a declaration file at column 0, each on one line, comments removed (one that
 * says `@deprecated` leaves DEPRECATED in front of its statement).
 */
function statements(text: string): string[] {
  // A comment and the blank after it go: what follows keeps the comment's indentation.
  const code = text
    .replace(/\/\*[\s\S]*?\*\/\s*/g, (c) => (c.includes('@deprecated') ? DEPRECATED : ''))
    .replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  let current: string | undefined;
  for (const line of code.split('\n')) {
    if (current !== undefined) {
      current += ` ${line.trim()}`;
      if (line.includes(';')) {
        out.push(current);
        current = undefined;
      }
    } else if (/^(@deprecated )?(export|import)\s*(type\s*)?\{/.test(line) && !line.includes(';'))
      current = line;
    else if (/^\S/.test(line)) out.push(line);
  }
  return out;
}

interface Specifier {
  readonly local: string;
  readonly name: string;
  readonly typeOnly: boolean;
}

/** `a, type b as c` → [{ local: 'a', name: 'a' }, { local: 'b', name: 'c', typeOnly: true }]. */
function specifierList(list: string, allType: boolean): Specifier[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const typeOnly = allType || s.startsWith('type ');
      const [local, name] = s.replace(/^type\s+/, '').split(/\s+as\s+/);
      return { local: local!, name: name ?? local!, typeOnly };
    });
}

/** `d` as seen through one more export: type-only or deprecated if that export says so. */
function through(d: Declared, typeOnly: boolean, deprecated: boolean): Declared {
  return {
    kinds: d.kinds,
    typeOnly: d.typeOnly || typeOnly,
    deprecated: d.deprecated || deprecated,
  };
}

function merge(into: Exports, name: string, declared: Declared): void {
  const known = into.get(name);
  into.set(
    name,
    known === undefined
      ? declared
      : {
          kinds: new Set([...known.kinds, ...declared.kinds]),
          typeOnly: known.typeOnly && declared.typeOnly,
          deprecated: known.deprecated && declared.deprecated,
        },
  );
}

/** What a declaration file exports, following re-exports into other files of the output. */
function exportsOf(file: string, cache: Map<string, Exports>): Exports {
  const cached = cache.get(file);
  if (cached !== undefined) return cached;
  const result: Exports = new Map();
  cache.set(file, result);
  const local: Exports = new Map();
  const imported = new Map<string, { from: string; name: string; typeOnly: boolean }>();
  const exportedLocals: Array<Specifier & { deprecated: boolean }> = [];
  const target = (spec: string): string | undefined => {
    if (!spec.startsWith('.')) return undefined;
    const base = resolve(dirname(file), spec).replace(/\.(ts|js)$/, '');
    for (const candidate of [`${base}.d.ts`, join(base, 'index.d.ts')])
      if (existsSync(candidate)) return candidate;
    throw new Error(`${file}: cannot resolve ${spec}`);
  };
  const external = (spec: string): Declared => ({
    kinds: new Set([`from ${spec}`]),
    typeOnly: false,
    deprecated: false,
  });
  // Each kind of statement, first match wins; `marked` when a @deprecated comment precedes it.
  const rules: Array<[RegExp, (m: RegExpExecArray, marked: boolean) => void]> = [
    [
      /^export\s*\*\s*as\s+(\w+)\s+from\s*'([^']+)'/,
      (m, marked) =>
        merge(result, m[1]!, {
          kinds: new Set(['namespace']),
          typeOnly: false,
          deprecated: marked,
        }),
    ],
    [
      /^export\s*\*\s*from\s*'([^']+)'/,
      (m, marked) => {
        const from = target(m[1]!);
        if (from === undefined) throw new Error(`${file}: export * from a package (${m[1]})`);
        for (const [name, d] of exportsOf(from, cache))
          if (name !== 'default') merge(result, name, through(d, false, marked));
      },
    ],
    [
      /^export\s+(type\s+)?\{([^}]*)\}\s*from\s*'([^']+)'/,
      (m, marked) => {
        const from = target(m[3]!);
        const names = from === undefined ? undefined : exportsOf(from, cache);
        for (const spec of specifierList(m[2]!, m[1] !== undefined)) {
          const d = names === undefined ? external(m[3]!) : names.get(spec.local);
          if (d === undefined) throw new Error(`${file}: ${m[3]} does not export ${spec.local}`);
          merge(result, spec.name, through(d, spec.typeOnly, marked));
        }
      },
    ],
    [
      /^export\s+(type\s+)?\{([^}]*)\}/,
      (m, marked) => {
        for (const spec of specifierList(m[2]!, m[1] !== undefined))
          exportedLocals.push({ ...spec, deprecated: marked });
      },
    ],
    [
      /^import\s+(type\s+)?\{([^}]*)\}\s*from\s*'([^']+)'/,
      (m) => {
        for (const spec of specifierList(m[2]!, m[1] !== undefined))
          imported.set(spec.name, { from: m[3]!, name: spec.local, typeOnly: spec.typeOnly });
      },
    ],
    [
      /^export\s+default\b/,
      (_, marked) =>
        merge(result, 'default', {
          kinds: new Set(['default']),
          typeOnly: false,
          deprecated: marked,
        }),
    ],
    [
      DECLARATION,
      (m, marked) => {
        const kind = ['let', 'var'].includes(m[2]!) ? 'const' : m[2]!;
        const declared = { kinds: new Set([kind]), typeOnly: false, deprecated: marked };
        merge(m[1] !== undefined ? result : local, m[3]!, declared);
      },
    ],
  ];
  for (const line of statements(readFileSync(file, 'utf8'))) {
    const marked = line.startsWith(DEPRECATED);
    const s = marked ? line.slice(DEPRECATED.length) : line;
    for (const [re, apply] of rules) {
      const m = re.exec(s);
      if (m === null) continue;
      apply(m, marked);
      break;
    }
  }
  for (const spec of exportedLocals) {
    let d = local.get(spec.local);
    const via = imported.get(spec.local);
    if (d === undefined && via !== undefined) {
      const from = target(via.from);
      const found = from === undefined ? external(via.from) : exportsOf(from, cache).get(via.name);
      if (found !== undefined) d = through(found, via.typeOnly, false);
    }
    if (d === undefined) throw new Error(`${file}: exports unknown ${spec.local}`);
    merge(result, spec.name, through(d, spec.typeOnly, spec.deprecated));
  }
  return result;
}

const TYPE_KINDS = new Set(['interface', 'type']);

/** Every public subpath and its exports, from declarations emitted into `dtsRoot`. */
export function collectApi(dtsRoot: string): ApiEntry[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { types?: string }>;
  };
  const cache = new Map<string, Exports>();
  const entries: ApiEntry[] = [];
  for (const [subpath, conditions] of Object.entries(pkg.exports)) {
    if (typeof conditions === 'string' || conditions.types === undefined) continue;
    const file = join(dtsRoot, conditions.types.replace(/^\.\/dist\//, ''));
    const names = [...exportsOf(file, cache)].map(([name, d]) => {
      const kinds = [...d.kinds].sort();
      return {
        name,
        kind: kinds.join(', '),
        // Interfaces and type aliases have no value anyway.
        typeOnly: d.typeOnly && !kinds.every((k) => TYPE_KINDS.has(k)),
        deprecated: d.deprecated,
      };
    });
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    entries.push({
      subpath: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      names,
    });
  }
  return entries;
}

/** A Markdown table of names and kinds, padded the way the formatter (biome) lays tables out. */
function table(names: readonly ApiName[]): string[] {
  const rows = names.map((n) => [
    `\`${n.name}\``,
    `${n.kind}${n.typeOnly ? ' (type only)' : ''}${n.deprecated ? ', deprecated' : ''}`,
  ]);
  const widths = [0, 1].map((i) => Math.max(4, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(['name', 'kind']), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** docs/api.md. */
export function renderApi(entries: readonly ApiEntry[]): string {
  const out = [
    '# Public API',
    '',
    '<!-- Generated by `npm run docs:api` from the published type declarations; do not edit. -->',
    '',
    'Every subpath the package exports and every name in it, with its kind, as the published',
    'type declarations show them (`@internal` members are stripped). "type only" means the name',
    'is exported as a type: it has no value at runtime; "deprecated" names go in the next release',
    '(CHANGELOG.md says what replaces them). A test fails when an export appears or disappears',
    'without this file changing: run `npm run docs:api` and note the change in CHANGELOG.md.',
    '',
  ];
  for (const entry of entries) {
    out.push(`## \`${entry.subpath}\``, '', `${entry.names.length} names.`, '');
    out.push(...table(entry.names));
    out.push('');
  }
  return out.join('\n');
}

/**
 * Type-checks emitted declarations as a consumer would see them (library checks on): a type
 * stripped as `@internal` but still named by a public one fails here.
 */
export function typecheckDeclarations(dir: string): string[] {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2023',
        lib: ['es2023'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ['**/*.d.ts'],
    }),
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
    encoding: 'utf8',
  });
  return `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim().length > 0);
}

/** The declaration files under `dir` that still say `@internal`. */
function internalLeft(dir: string, under = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(under)) {
    const path = join(under, name);
    if (statSync(path).isDirectory()) out.push(...internalLeft(dir, path));
    else if (name.endsWith('.d.ts') && readFileSync(path, 'utf8').includes('@internal'))
      out.push(relative(dir, path));
  }
  return out;
}

/** What `buildApiReport` found. */
export interface ApiReport {
  /** docs/api.md as it should be. */
  readonly text: string;
  /** The entries it was rendered from. */
  readonly entries: readonly ApiEntry[];
  /** Declaration files that still carry `@internal` members. */
  readonly internal: readonly string[];
  /** Errors type-checking the declarations as a consumer. */
  readonly typeErrors: readonly string[];
}

/**
 * Emits the declarations (into .tmp/ under the repository, so they resolve the dependencies' types
 * as an installed package does), checks them, and renders the report.
 */
export function buildApiReport(): ApiReport {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'api-'));
  try {
    emitDeclarations(dir);
    const entries = collectApi(dir);
    return {
      text: renderApi(entries),
      entries,
      internal: internalLeft(dir),
      typeErrors: typecheckDeclarations(dir),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { text, internal, typeErrors } = buildApiReport();
  if (internal.length > 0) {
    process.stderr.write(`@internal left in published declarations: ${internal.join(', ')}\n`);
    process.exitCode = 1;
  }
  if (typeErrors.length > 0) {
    process.stderr.write(
      `the published declarations do not type-check:\n${typeErrors.join('\n')}\n`,
    );
    process.exitCode = 1;
  }
  const target = join(ROOT, 'docs', 'api.md');
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
