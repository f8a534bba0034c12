/**
 * The folder layering of src/, checked from the sources (`npm run check:layers` prints it; a
 * test fails on a violation). A folder may import only from folders in lower layers — never
 * upward, never sideways into another folder of its own layer — so no two folders import each
 * other, however indirectly. Type-only imports count: they are dependencies of the design too.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The layers, lowest first; each top-level folder of src/ is in exactly one. */
export const LAYERS: readonly (readonly string[])[] = [
  ['process'],
  ['app'],
  ['middleware', 'schema', 'testing'],
  ['server'],
  ['data'],
  ['db', 'cache', 'client'],
  ['auth'],
  ['telemetry'],
  ['dashboard'],
  ['apm'],
  ['cli'],
];

/** One import from a file of one folder into a file of another. */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly file: string;
  readonly target: string;
}

/** What the check found. */
export interface LayerReport {
  /** Top-level folders of src/ (the root index.ts counts as `app`, the framework's entry). */
  readonly folders: readonly string[];
  /** Every import that crosses folders. */
  readonly edges: readonly Edge[];
  /** Imports into a higher layer or into another folder of the same layer. */
  readonly violations: readonly Edge[];
  /** Folders of src/ missing from LAYERS. */
  readonly unlayered: readonly string[];
  /** Groups of folders that import each other (strongly connected, size > 1). */
  readonly cycles: readonly (readonly string[])[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

// Statements only at the start of a line (the formatter puts them there), so examples inside doc
// comments (` * import …`) are not taken for imports.
const STATIC = /^(?:import|export)\b[^;]*?\bfrom\s*'([^']+)'/gms;
const BARE = /^import\s*'([^']+)'/gm;
const AUGMENT = /^declare module\s*'([^']+)'/gm;
const DYNAMIC = /\bimport\(\s*'([^']+)'\s*\)/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** The specifiers a file imports (static, side-effect, dynamic, module augmentation). */
export function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const re of [STATIC, BARE, AUGMENT]) for (const m of text.matchAll(re)) found.push(m[1]!);
  for (const line of text.split('\n')) {
    if (/^\s*(\*|\/\/|\/\*)/.test(line)) continue;
    for (const m of line.matchAll(DYNAMIC)) found.push(m[1]!);
  }
  return found;
}

/** The package's own subpaths (`peregrine`, `peregrine/db`, …) → their source files. */
function selfExports(): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { 'peregrine-source'?: string }>;
  };
  const map = new Map<string, string>();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string' || target['peregrine-source'] === undefined) continue;
    map.set(
      join(pkg.name, subpath).replace(/\/\.$/, ''),
      resolve(ROOT, target['peregrine-source']),
    );
  }
  return map;
}

/** The top-level folder of a file under src/ (`app` for src/index.ts). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? 'app' : parts[0]!;
}

/** Builds the folder graph of src/ and checks it against LAYERS. */
export function checkLayers(): LayerReport {
  const self = selfExports();
  const rank = new Map<string, number>();
  LAYERS.forEach((layer, i) => {
    for (const folder of layer) rank.set(folder, i);
  });
  const folders = readdirSync(SRC)
    .filter((name) => statSync(join(SRC, name)).isDirectory())
    .sort();
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const target = spec.startsWith('.') ? resolve(dirname(file), spec) : self.get(spec);
      if (target === undefined || !target.startsWith(SRC + sep)) continue;
      if (!existsSync(target)) throw new Error(`${relative(ROOT, file)}: cannot resolve ${spec}`);
      const to = folderOf(target);
      if (to !== from)
        edges.push({ from, to, file: relative(ROOT, file), target: relative(ROOT, target) });
    }
  }
  const unlayered = folders.filter((f) => !rank.has(f));
  const violations = edges.filter((e) => {
    const a = rank.get(e.from);
    const b = rank.get(e.to);
    return a !== undefined && b !== undefined && b >= a;
  });
  return { folders, edges, violations, unlayered, cycles: cyclesOf(folders, edges) };
}

/** Strongly connected groups of more than one folder (Tarjan). */
function cyclesOf(folders: readonly string[], edges: readonly Edge[]): string[][] {
  const next = new Map<string, Set<string>>(folders.map((f) => [f, new Set<string>()]));
  for (const e of edges) next.get(e.from)?.add(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const f of folders) if (!index.has(f)) visit(f);
  return groups;
}

/** The report as text: layers, folder edges with counts, then what is wrong. */
export function renderLayers(report: LayerReport): string {
  const lines: string[] = ['layers (lowest first; a folder imports only from lower layers):'];
  LAYERS.forEach((layer, i) => {
    lines.push(`  ${i}  ${layer.join(', ')}`);
  });
  const counts = new Map<string, number>();
  for (const e of report.edges) {
    const key = `${e.from} -> ${e.to}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  lines.push('folder imports (import statements):');
  for (const [key, n] of [...counts].sort()) lines.push(`  ${key} (${n})`);
  lines.push(`upward or sideways imports: ${report.violations.length === 0 ? 'none' : ''}`);
  for (const e of report.violations)
    lines.push(`  ${e.file} -> ${e.target} (${e.from} -> ${e.to})`);
  lines.push(
    `cycles between folders: ${report.cycles.length === 0 ? 'none' : report.cycles.map((c) => c.join(' <-> ')).join('; ')}`,
  );
  if (report.unlayered.length > 0)
    lines.push(`folders missing from LAYERS (scripts/layers.ts): ${report.unlayered.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const report = checkLayers();
  process.stdout.write(renderLayers(report));
  const bad = report.violations.length + report.cycles.length + report.unlayered.length;
  process.exitCode = bad === 0 ? 0 : 1;
}
