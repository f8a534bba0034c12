/**
 * Differential fuzzing of the HTTP/1.1 engine against node:http (see test/helpers/http-fuzz.ts
 * for what is compared and what is not): the cases kept in fuzz-regressions/ first, then a fixed
 * seed of generated cases. `npm run fuzz:http -- --seed N --runs M` runs longer and saves any
 * disagreement it finds to fuzz-regressions/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { FUZZ_CASE, type FuzzCase, HttpDiffer } from '../helpers/http-fuzz.ts';

const SEED = 20_261_205;
const RUNS = 3000;
const REGRESSIONS = new URL('./fuzz-regressions/', import.meta.url).pathname;

let differ: HttpDiffer;
before(async () => {
  differ = await HttpDiffer.start();
});
after(async () => {
  await differ.close();
});

test('the cases kept in fuzz-regressions/ agree', async () => {
  const files = readdirSync(REGRESSIONS).filter((f) => f.endsWith('.json'));
  assert.ok(files.length > 0, 'regression cases exist');
  for (const file of files) {
    const kept = JSON.parse(readFileSync(`${REGRESSIONS}${file}`, 'utf8')) as FuzzCase & {
      expect?: { requests: number; refused: boolean };
    };
    const { engine, node } = await differ.outcomes(kept);
    const detail = `${file}\nengine: ${JSON.stringify(engine)}\nnode:   ${JSON.stringify(node)}`;
    assert.equal(engine.refused, node.refused, detail);
    assert.deepEqual(engine.requests, node.requests, detail);
    // What node:http does with it is pinned too, so a case cannot pass by both doing nothing.
    if (kept.expect !== undefined) {
      assert.equal(node.requests.length, kept.expect.requests, detail);
      assert.equal(node.refused, kept.expect.refused, detail);
    }
  }
});

test(`${RUNS} generated cases (seed ${SEED}): the engine and node:http agree`, async () => {
  let dispatched = 0;
  let refused = 0;
  let last = '';
  const result = await fc.check(
    fc.asyncProperty(FUZZ_CASE, async (c: FuzzCase) => {
      const { engine, node } = await differ.outcomes(c);
      if (node.requests.length > 0) dispatched++;
      if (node.refused) refused++;
      const same =
        engine.refused === node.refused &&
        JSON.stringify(engine.requests) === JSON.stringify(node.requests);
      if (!same) last = `engine: ${JSON.stringify(engine)}\nnode:   ${JSON.stringify(node)}`;
      return same;
    }),
    { seed: SEED, numRuns: RUNS },
  );
  assert.ok(
    !result.failed,
    `disagreement on ${JSON.stringify(result.counterexample?.[0])}\n${last}\n` +
      'save it with: npm run fuzz:http -- --seed ' +
      SEED,
  );
  // The generator must exercise both sides of the property (not agree by doing nothing).
  assert.ok(dispatched > RUNS * 0.3, `${dispatched} of ${RUNS} cases had requests`);
  assert.ok(refused > RUNS * 0.1, `${refused} of ${RUNS} cases were refused`);
});
