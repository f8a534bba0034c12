import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/app/errors/codes.ts';

test('every error code is documented in docs/errors.md with its status', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.match(row, new RegExp(`\\|\\s*${status}\\s*\\|`), `${code} row lacks status ${status}`);
  }
});

test('docs/errors.md documents no code that does not exist', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]);
  for (const code of documented) assert.ok(code! in ERROR_CODES, `${code} is not a known code`);
});

test('docs/errors.md names exactly the expected (sampled) codes', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const paragraph = doc.split('\n\n').find((p) => p.includes('_expected_')) ?? '';
  const named = [...paragraph.matchAll(/`(PRG_[A-Z0-9_]*[A-Z0-9])`/g)].map((m) => m[1]!);
  const upstream = paragraph.includes('`PRG_UPSTREAM_*`');
  for (const [code, v] of Object.entries(ERROR_CODES)) {
    const expected = (v as { expected?: true }).expected === true;
    const isNamed = named.includes(code) || (upstream && code.startsWith('PRG_UPSTREAM_'));
    if (code === 'PRG_INTERNAL') continue; // named as the counter-example
    assert.equal(isNamed, expected, `${code}: expected ${expected}, named ${isNamed}`);
  }
});
