/**
 * What the rate limiter costs per request: the same App served twice side by side in one run,
 * without the limiter and with it (node store, a key that never reaches its limit), each by one
 * worker of `peregrine serve`, loaded in turn by wrk (off, on, off, on, …) so both see the same
 * machine. Prints requests/s of each round and the ratio on/off of the medians.
 *
 *   flock /tmp/peregrine-load.lock npx node --conditions=peregrine-source bench/rate-limit-cost.ts
 */
import { spawnSync } from 'node:child_process';
import { startServe } from '../test/helpers/serve-process.ts';

const APP = 'test/fixtures/server/rate-limit-app.ts';
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 3);

function wrk(port: number): number {
  const r = spawnSync(
    'wrk',
    [
      '-t1',
      '-c16',
      `-d${SECONDS}s`,
      '-H',
      'x-client: never-limited',
      `http://127.0.0.1:${port}/hit`,
    ],
    { encoding: 'utf8' },
  );
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (m === null) throw new Error(`wrk said: ${r.stdout}${r.stderr}`);
  if (/Non-2xx/.test(r.stdout)) throw new Error(`non-2xx answers: ${r.stdout}`);
  return Number(m[1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const off = await startServe([APP, '--workers', '1', '--shed-delay', '0'], {
  env: { RL_OFF: '1' },
});
const on = await startServe([APP, '--workers', '1', '--shed-delay', '0'], {
  env: { RL_LIMIT: '1000000' },
});
try {
  await Promise.all([off.waitForReady(1), on.waitForReady(1)]);
  wrk(off.port); // warm-up, both
  wrk(on.port);
  const results = { off: [] as number[], on: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    results.off.push(wrk(off.port));
    results.on.push(wrk(on.port));
    console.log(
      `round ${i + 1}: off ${results.off[i]!.toFixed(0)}/s  on ${results.on[i]!.toFixed(0)}/s`,
    );
  }
  const ratio = median(results.on) / median(results.off);
  console.log(
    `median off ${median(results.off).toFixed(0)}/s, on ${median(results.on).toFixed(0)}/s, ratio on/off ${ratio.toFixed(3)}`,
  );
} finally {
  await Promise.all([off.stop(), on.stop()]);
}
