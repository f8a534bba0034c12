import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { checkNodeApi } from '../../src/db/sqlite/node-api.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

test('SQLite refuses a runtime without Node-API 10 with a message, instead of crashing', () => {
  assert.throws(
    () => checkNodeApi('9'),
    /needs Node-API 10, that is Node\.js ≥ 22\.14 .* set DATABASE_URL/,
  );
  checkNodeApi('10');
  checkNodeApi(process.versions.napi);
});

// The machine's own Node, when it is older than the pinned one (this project's machines have an
// EOL Node 20 as /usr/bin/node): the built package, opened there, says why instead of segfaulting.
const old = '/usr/bin/node';
const oldNapi = existsSync(old)
  ? Number(spawnSync(old, ['-p', 'process.versions.napi'], { encoding: 'utf8' }).stdout)
  : 10;
test('on a Node without Node-API 10 (the system node), opening SQLite fails with the reason', {
  skip: oldNapi >= 10 ? `no Node older than 22.14 at ${old}` : false,
}, () => {
  const script = `import('${ROOT}dist/db/index.js').then(async (m) => { await m.openDatabase('sqlite::memory:').open(); }).catch((e) => { console.log(e.message); process.exit(3); })`;
  const r = spawnSync(old, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 3, `exit ${r.status} signal ${r.signal}: ${r.stderr}`);
  assert.match(r.stdout, /needs Node-API 10/);
});
