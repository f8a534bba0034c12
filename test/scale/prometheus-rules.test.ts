import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

// The files of deploy/prometheus/ as promtool sees them: the config parses, the rules parse,
// and the rules' unit tests (rules.test.yml: worked-out RED numbers and alerts) pass.

const DIR = new URL('../../deploy/prometheus/', import.meta.url).pathname;

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: DIR, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')}:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

test('promtool check rules: deploy/prometheus/rules.yml', () => {
  assert.match(promtool('check', 'rules', 'rules.yml'), /SUCCESS: \d+ rules found/);
});

test('promtool check config: deploy/prometheus/prometheus.yml', () => {
  assert.match(promtool('check', 'config', 'prometheus.yml'), /SUCCESS/);
});

test('promtool test rules: deploy/prometheus/rules.test.yml', () => {
  assert.match(promtool('test', 'rules', 'rules.test.yml'), /SUCCESS/);
});
