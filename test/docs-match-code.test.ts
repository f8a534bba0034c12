import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { USAGE as BENCH_USAGE } from '../bench/lib/args.ts';
import { ERROR_CODES } from '../src/app/errors/codes.ts';
import { settingList } from '../src/server/settings/all.ts';
import { renderHelp } from '../src/server/settings/docs.ts';
import { ENVIRONMENT_VARIABLES } from '../src/server/settings/environment.ts';
import { envName } from '../src/server/settings/setting.ts';

// docs/settings.md itself is generated from the declarations and compared with them whole in
// test/server/settings.test.ts, so a setting added, removed or renamed on either side fails there.
// This file checks what is written by hand: the error table, and the names the rest of the docs
// and the code use.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every .ts file under src/, with its path relative to the repository. */
function sources(): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        out.push({ path: relative(ROOT, full), text: readFileSync(full, 'utf8') });
      }
    }
  };
  walk(join(ROOT, 'src'));
  return out;
}

/** The hand-written docs: README.md and docs/*.md, without the generated settings.md. */
function handWrittenDocs(): Array<{ path: string; text: string }> {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'settings.md')
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].map((path) => ({
    path,
    text: readFileSync(join(ROOT, path), 'utf8'),
  }));
}

const SRC = sources();
const ERRORS_DOC = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
const CODES_FILE = 'src/app/errors/codes.ts';

function where(files: Array<{ path: string; text: string }>, pattern: RegExp): Map<string, string> {
  const found = new Map<string, string>();
  for (const { path, text } of files) {
    for (const m of text.matchAll(pattern)) if (!found.has(m[1]!)) found.set(m[1]!, path);
  }
  return found;
}

describe('error codes: src/app/errors/codes.ts, the code that raises them, docs/errors.md', () => {
  test('every code has its row in docs/errors.md with its status and its summary', () => {
    for (const [code, { status, summary }] of Object.entries(ERROR_CODES)) {
      const row = ERRORS_DOC.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      assert.ok(row, `${code} is missing from docs/errors.md`);
      const cells = row.split('|').map((c) => c.trim());
      assert.deepEqual(cells.slice(2, 4), [String(status), summary], `the row of ${code}`);
    }
  });

  test('docs/errors.md documents no code the table does not have', () => {
    const documented = [...ERRORS_DOC.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]!);
    assert.ok(documented.length > 0);
    for (const code of documented) assert.ok(code in ERROR_CODES, `${code} is not a known code`);
  });

  test('every PRG_ code named anywhere in src/ or the docs is in the table', () => {
    // `PRG_UPSTREAM_*` (a family) is not a code: a name ends in a letter or digit.
    const named = where([...SRC, ...handWrittenDocs()], /\b(PRG_[A-Z0-9_]*[A-Z0-9])\b/g);
    for (const [code, path] of named) {
      assert.ok(code in ERROR_CODES, `${path} names ${code}, which codes.ts does not declare`);
    }
  });

  test('docs/errors.md names exactly the expected (sampled) codes', () => {
    const paragraph = ERRORS_DOC.split('\n\n').find((p) => p.includes('_expected_')) ?? '';
    const named = [...paragraph.matchAll(/`(PRG_[A-Z0-9_]*[A-Z0-9])`/g)].map((m) => m[1]!);
    const upstream = paragraph.includes('`PRG_UPSTREAM_*`');
    for (const [code, v] of Object.entries(ERROR_CODES)) {
      const expected = (v as { expected?: true }).expected === true;
      const isNamed = named.includes(code) || (upstream && code.startsWith('PRG_UPSTREAM_'));
      if (code === 'PRG_INTERNAL') continue; // named as the counter-example
      assert.equal(isNamed, expected, `${code}: expected ${expected}, named ${isNamed}`);
    }
  });

  test('every code in the table is raised somewhere in src/ (a code nothing sends is not documented)', () => {
    const raised = where(
      SRC.filter((f) => f.path !== CODES_FILE),
      /['"](PRG_[A-Z0-9_]+)['"]/g,
    );
    for (const code of Object.keys(ERROR_CODES)) {
      assert.ok(raised.has(code), `no code in src/ raises ${code}`);
    }
  });
});

describe('environment variables and flags: the code against the docs', () => {
  const settingEnv = new Set(settingList().map(([, s]) => envName(s.name)));
  const envOnly = new Set(ENVIRONMENT_VARIABLES.map((v) => v.name));
  /** Variables read by name: `env.NAME`, `process.env.NAME`, `env['NAME']`. */
  const read = where(SRC, /\benv(?:\.|\[['"])([A-Z][A-Z0-9_]+)\b/g);

  test('every variable the code reads is a setting’s or documented as environment-only', () => {
    assert.ok(read.size > 0);
    for (const [name, path] of read) {
      assert.ok(
        settingEnv.has(name) || envOnly.has(name),
        `${path} reads ${name}: declare it in src/server/settings/environment.ts`,
      );
    }
  });

  test('every environment-only variable is read by the code', () => {
    for (const name of envOnly) assert.ok(read.has(name), `nothing in src/ reads ${name}`);
  });

  test('every PEREGRINE_ or OTEL_ variable the docs name exists', () => {
    const named = where(handWrittenDocs(), /\b((?:PEREGRINE|OTEL)_[A-Z0-9_]+)\b/g);
    assert.ok(named.size > 0);
    for (const [name, path] of named) {
      // `OTEL_TRACES_SAMPLER[_ARG]` names two at once.
      assert.ok(settingEnv.has(name) || envOnly.has(name), `${path} names ${name}`);
    }
  });

  test('every command-line flag the docs name exists', () => {
    // `peregrine serve` and `npm run bench` list theirs in their help, the other peregrine
    // commands in their usage text (src/cli/); the other bench, scripts/, test/scale/ and
    // `npm start` (examples/reference/start.ts) entry points declare theirs to util.parseArgs;
    // node's are node's (`--test` is CLI-only).
    const known = new Set<string>(['test']);
    // V8's own options (`--trace-gc-nvp`, `--max-semi-space-size`) as this Node lists them.
    const v8 = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    for (const m of v8.matchAll(/^\s+--([a-z][a-z0-9-]*)/gm)) known.add(m[1]!);
    const flagsIn = (text: string) => {
      for (const m of text.matchAll(/--(\[no-\])?([a-z][a-z0-9-]*)/g)) {
        known.add(m[2]!);
        if (m[1] !== undefined) known.add(`no-${m[2]}`);
      }
    };
    flagsIn(renderHelp());
    flagsIn(BENCH_USAGE);
    const files = (dir: string) =>
      readdirSync(join(ROOT, dir))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(join(ROOT, dir, f), 'utf8'));
    for (const text of files('src/cli')) flagsIn(text);
    for (const text of [
      ...files('bench'),
      ...files('scripts'),
      ...files('test/scale'),
      ...files('examples/reference'),
    ]) {
      for (const m of text.matchAll(/^\s+'?([a-z][a-z0-9-]*)'?: \{ type: '/gm)) known.add(m[1]!);
    }
    // In `npm …` the flags are npm's, except those after ` -- `, which go to the script; in a
    // Dockerfile block they are Docker's and the shell commands'.
    const docs = handWrittenDocs().map(({ path, text }) => ({
      path,
      text: text.replace(/^```dockerfile\n[\s\S]*?^```$/gm, '').replace(/`npm [^`]*`/g, (span) => {
        const i = span.indexOf(' -- ');
        return i === -1 ? '``' : `\`${span.slice(i + 4)}`;
      }),
    }));
    const named = where(docs, /(?:^|[\s`(])--([a-z][a-z0-9-]*)/gm);
    assert.ok(named.size > 0);
    const unknown = [...named]
      .filter(([flag]) => !known.has(flag) && !process.allowedNodeEnvironmentFlags.has(`--${flag}`))
      .map(([flag, path]) => `${path}: --${flag}`);
    assert.deepEqual(unknown, [], 'flags no command has');
  });
});
