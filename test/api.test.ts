import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildApiReport } from '../scripts/api-report.ts';

// One emit for all the checks below (tsc takes seconds).
const report = buildApiReport();

test('docs/api.md lists the public surface as it is (npm run docs:api)', () => {
  const doc = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
  assert.equal(doc, report.text, 'an export appeared or disappeared: run npm run docs:api');
});

test('published declarations carry no @internal member and type-check as a consumer sees them', () => {
  assert.deepEqual(report.internal, []);
  assert.deepEqual(report.typeErrors, []);
});

test('every subpath exports at runtime exactly the values its declarations list', async () => {
  for (const entry of report.entries) {
    const values = entry.names
      .filter((n) => !n.typeOnly && !/^(interface|type)(, (interface|type))*$/.test(n.kind))
      .map((n) => n.name)
      .filter((name) => name !== 'StandardSchemaV1');
    const module = (await import(entry.subpath)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(module).sort(), values.sort(), entry.subpath);
  }
});
