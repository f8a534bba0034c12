/**
 * `npm run fuzz:http -- --seed N --runs M`: the differential fuzz test of the HTTP/1.1 engine
 * against node:http (test/server/http-fuzz.test.ts runs a fixed seed in `npm test`), for as long
 * as you like. A case on which the two disagree is shrunk by fast-check and written to
 * test/server/fuzz-regressions/, which the test suite replays from then on.
 *
 *   npm run fuzz:http -- --seed 7 --runs 50000
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { FUZZ_CASE, type FuzzCase, HttpDiffer } from '../test/helpers/http-fuzz.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    runs: { type: 'string', default: '20000' },
  },
});
const seed = Number(values.seed);
const runs = Number(values.runs);
const DIR = new URL('../test/server/fuzz-regressions/', import.meta.url).pathname;

const differ = await HttpDiffer.start();
let last = '';
const started = Date.now();
try {
  const result = await fc.check(
    fc.asyncProperty(FUZZ_CASE, async (c: FuzzCase) => {
      const diff = await differ.run(c);
      if (diff !== null) last = diff;
      return diff === null;
    }),
    { seed, numRuns: runs },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (!result.failed) {
    console.log(`seed ${seed}: ${result.numRuns} cases, engine and node:http agree (${seconds} s)`);
  } else {
    const c = result.counterexample![0] as FuzzCase;
    const name = createHash('sha256').update(JSON.stringify(c.parts)).digest('hex').slice(0, 12);
    mkdirSync(DIR, { recursive: true });
    const file = join(DIR, `${name}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ found: `npm run fuzz:http -- --seed ${seed}`, parts: c.parts }, null, 2)}\n`,
    );
    // Formatted as the repository's JSON is (`npm run lint` checks it).
    const biome = new URL('../node_modules/.bin/biome', import.meta.url).pathname;
    execFileSync(biome, ['format', '--write', file], { stdio: 'ignore' });
    console.log(
      `seed ${seed}: disagreement after ${result.numRuns} cases, shrunk and saved to ${file}`,
    );
    console.log(JSON.stringify(c.parts));
    console.log(last);
    process.exitCode = 1;
  }
} finally {
  await differ.close();
}
