import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');

/**
 * The application module could not be loaded, or it does not export an App. The message says
 * what went wrong, where (file:line) and how to fix it; a stack would only show Peregrine's own
 * loader, so none is kept.
 */
export class AppLoadError extends Error {
  override name = 'AppLoadError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    // The frames are the loader's, never the user's: the message carries the location.
    this.stack = `${this.name}: ${message}`;
  }
}

/** Where a syntax error is: file, line and the offending source line with its caret. */
interface SourceLocation {
  file: string;
  line: number;
  source?: string;
  caret?: string;
}

/** What to do about a decorator Node cannot run; names the hook of the decorator line if it can. */
function decoratorAdvice(line: string): string {
  const m = /^@(before|after)\((.+)\)\s*$/.exec(line.trim());
  const form =
    m === null
      ? '`withHooks(Resource, { before: [hook] })`'
      : `\`withHooks(Resource, { ${m[1]}: [${m[2]}] })\` after the class (\`Resource.prototype.onGet\` for one responder)`;
  return (
    'Decorators need a build step: Node runs TypeScript by stripping the types, and decorators ' +
    `are not types (JavaScript has none yet). Attach hooks without them — ${form} — or compile ` +
    'with tsc and serve the .js (docs/guide.md, "Hooks").'
  );
}

const TS_SYNTAX_ADVICE =
  'Node runs TypeScript by stripping the types only: enums, namespaces and constructor parameter ' +
  'properties need a build step. Use a const object and plain fields, or compile with tsc and ' +
  'serve the .js.';

/** Frames of Peregrine itself and of Node, which say nothing about the user's code. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
function isOwnFrame(frame: string): boolean {
  return (
    frame.includes('node:internal') ||
    frame.includes(`${PACKAGE_ROOT}dist/`) ||
    frame.includes(`${PACKAGE_ROOT}bin/`) ||
    frame.includes(`${PACKAGE_ROOT}src/`)
  );
}

/** The location Node puts in front of a syntax error's stack (`/path/app.ts:2` + source + caret). */
function stackLocation(err: Error): SourceLocation | undefined {
  const m = /^(\S[^\n]*?):(\d+)\n([^\n]*)\n([ \t]*\^+)[ \t]*\n/.exec(err.stack ?? '');
  if (m === null) return undefined;
  const file = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!;
  return { file, line: Number(m[2]), source: m[3]!, caret: m[4]! };
}

/** Relative imports of a module, resolved to the files they name (TypeScript's .js → .ts too). */
function localImports(file: string, source: string): string[] {
  const out: string[] = [];
  const re = /\bfrom\s*['"](\.\.?\/[^'"\n]+)['"]|\bimport\s*\(?\s*['"](\.\.?\/[^'"\n]+)['"]/g;
  for (const m of source.matchAll(re)) {
    const target = resolve(dirname(file), (m[1] ?? m[2])!);
    if (existsSync(target)) out.push(target);
    else if (/\.[cm]?js$/.test(target)) {
      const ts = target.replace(/js$/, 'ts');
      if (existsSync(ts)) out.push(ts);
    }
  }
  return out;
}

/**
 * Finds a syntax error V8 reported without a location (it keeps the location for the uncaught
 * report, which a caught `import()` never prints): `node --check` on the module and the local
 * modules it imports, in import order, until one fails. Only on the failure path; bounded.
 */
function locateSyntaxError(entry: string): SourceLocation | undefined {
  const flags = process.execArgv.filter((a) => /strip-types|transform-types/.test(a));
  const seen = new Set<string>();
  const queue = [entry];
  const deadline = Date.now() + 10_000;
  while (queue.length > 0 && seen.size < 30 && Date.now() < deadline) {
    const file = queue.shift()!;
    if (seen.has(file) || file.includes('/node_modules/')) continue;
    seen.add(file);
    // PERF: node:child_process only on this failure path, not in every worker's boot.
    const check = process
      .getBuiltinModule('node:child_process')
      .spawnSync(process.execPath, [...flags, '--check', file], {
        encoding: 'utf8',
        timeout: 5000,
        env: { ...process.env, NODE_OPTIONS: '' },
      });
    if (check.status !== 0 && check.stderr) {
      const m = /^(\S[^\n]*?):(\d+)\n([^\n]*)\n([ \t]*\^+)/m.exec(check.stderr);
      if (m !== null) return { file: m[1]!, line: Number(m[2]), source: m[3]!, caret: m[4]! };
    }
    try {
      queue.push(...localImports(file, readFileSync(file, 'utf8')));
    } catch {
      // unreadable: nothing to follow
    }
  }
  return undefined;
}

function where(loc: SourceLocation): string {
  const snippet =
    loc.source === undefined ? '' : `\n    ${loc.source}\n    ${loc.caret ?? ''}`.trimEnd();
  return `${loc.file}:${loc.line}${snippet}`;
}

/** The first frames of the user's code in a stack, as `at …` lines. */
function userFrames(err: Error): string {
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l) && !isOwnFrame(l))
    .slice(0, 5)
    .map((l) => `    ${l.trim()}`);
  return frames.length === 0 ? '' : `\n${frames.join('\n')}`;
}

/**
 * Turns what importing the App module threw into one message with the file and line and the
 * fix: a syntax error (decorators and TypeScript-only syntax explained), a missing dependency,
 * or an exception thrown by the module's own code (with its frames, not Peregrine's).
 */
export function explainImportFailure(err: unknown, module: string, path: string): AppLoadError {
  const head = `cannot load the App from ${module}`;
  if (!(err instanceof Error)) return new AppLoadError(`${head}: it threw ${String(err)}`);
  const code = (err as { code?: unknown }).code;
  const what = `${err.name}: ${err.message}`;
  const frames = userFrames(err);
  // A syntax error of the source has no frames of the user's code (one from JSON.parse has).
  if ((err instanceof SyntaxError && frames === '') || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
    const loc = stackLocation(err) ?? locateSyntaxError(path);
    const advice =
      code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX'
        ? `\n${TS_SYNTAX_ADVICE}`
        : loc?.source?.trimStart().startsWith('@')
          ? `\n${decoratorAdvice(loc.source)}`
          : '';
    const at = loc === undefined ? '' : `\n  ${where(loc)}`;
    return new AppLoadError(`${head}: ${what}${at}${advice}`, { cause: err });
  }
  if (code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    const loc = stackLocation(err);
    const at = loc === undefined ? '' : `\n  ${where(loc)}`;
    return new AppLoadError(`${head}: ${what}${at}\n${TS_SYNTAX_ADVICE}`, { cause: err });
  }
  if (code === 'ERR_MODULE_NOT_FOUND') {
    const pkg = /Cannot find package '([^']+)'/.exec(err.message)?.[1];
    const fix =
      pkg === undefined
        ? 'Check the import path (relative imports need the file extension, e.g. ./items.ts).'
        : `Install it (npm install ${pkg}) or fix the import.`;
    return new AppLoadError(`${head}: ${err.message}\n${fix}`, { cause: err });
  }
  return new AppLoadError(`${head}: its code threw ${what}${frames}`, { cause: err });
}
