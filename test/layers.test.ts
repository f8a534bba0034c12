import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { checkLayers, renderLayers, specifiers } from '../scripts/layers.ts';

test('src/ folders import only downward (scripts/layers.ts): no upward edge, no cycle', () => {
  const report = checkLayers();
  const text = renderLayers(report);
  assert.deepEqual(report.unlayered, [], text);
  assert.deepEqual(report.violations, [], text);
  assert.deepEqual(report.cycles, [], text);
  // The graph is really built: the framework's own imports between folders are seen.
  assert.ok(
    report.edges.some((e) => e.from === 'telemetry' && e.to === 'app'),
    text,
  );
});

test('the import scanner sees every kind of import and none inside comments', () => {
  const source = [
    "import type { A } from './a.ts';",
    'import {',
    '  b,',
    '  type C,',
    "} from '../b.ts';",
    "export * from './c.ts';",
    "import './d.ts';",
    "declare module '../e.ts' {}",
    "const f = await import('./f.ts');",
    '/**',
    " * import { g } from './g.ts';",
    " * const h = await import('./h.ts');",
    ' */',
    "// const i = await import('./i.ts');",
  ].join('\n');
  assert.deepEqual(specifiers(source).sort(), [
    '../b.ts',
    '../e.ts',
    './a.ts',
    './c.ts',
    './d.ts',
    './f.ts',
  ]);
});

test("README's layout names every folder of src/ and every top-level folder", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const layout = /## Layout\n[\s\S]*?```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const listed = new Set(layout.split('\n').map((line) => line.split(/\s+/)[0]));
  const root = new URL('..', import.meta.url);
  const dirs = (url: URL) =>
    readdirSync(url).filter((n) => !n.startsWith('.') && statSync(new URL(n, url)).isDirectory());
  const expected = [
    ...dirs(new URL('src/', root)).map((n) => `src/${n}/`),
    ...dirs(root)
      .filter((n) => !['node_modules', 'dist', 'src'].includes(n))
      .map((n) => `${n}/`),
  ];
  for (const dir of expected) assert.ok(listed.has(dir), `README's Layout does not list ${dir}`);
  for (const entry of listed) {
    if (entry?.endsWith('/'))
      assert.ok(expected.includes(entry), `README's Layout lists ${entry}, which does not exist`);
  }
});
