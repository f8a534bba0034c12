/**
 * `npm run bench:profile -- --server peregrine --test json`: one server under the same load as
 * `npm run bench`, with V8's CPU profiler on, and a summary of where its time goes (functions by
 * self and inclusive time, then by file). The raw .cpuprofile files stay for Chrome DevTools.
 * `--warmup S` puts S seconds of load first and leaves them (and start-up) out of the summary:
 * without it a cache test's summary is mostly its cache filling and the JIT warming up.
 *
 *   flock /tmp/peregrine-load.lock npm run bench:profile -- --server peregrine --test json
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isTestName, TEST_NAMES, TESTS } from './lib/catalogue.ts';
import { type CpuProfile, formatProfile, profileFrom, summarizeProfile } from './lib/cpuprofile.ts';
import { ensureDatabase } from './lib/database.ts';
import { chooseLoadGenerator } from './lib/load.ts';
import { machineInfo, planCpus, tasksetWorks } from './lib/machine.ts';
import { ROOT, serverByName } from './lib/servers.ts';
import { type SessionContext, startServer, warmAndMeasure } from './lib/session.ts';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'peregrine' },
    test: { type: 'string', default: 'json' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '0' },
    connections: { type: 'string', default: '64' },
    queries: { type: 'string', default: '20' },
    pool: { type: 'string', default: '16' },
    top: { type: 'string', default: '30' },
  },
});
const variant = serverByName(values.server);
if (variant === undefined) throw new Error(`unknown server ${values.server}`);
if (!isTestName(values.test))
  throw new Error(`unknown test ${values.test}; tests are ${TEST_NAMES.join(', ')}`);
const spec = TESTS[values.test];
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
if (spec.needsDatabase) await ensureDatabase(databaseUrl);

const dir = join(ROOT, 'bench', 'results', 'profiles', `${variant.name}-${spec.name}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const ctx: SessionContext = {
  load: await chooseLoadGenerator('auto'),
  cpus: planCpus(machineInfo().cores, true, tasksetWorks()),
  databaseUrl: spec.needsDatabase ? databaseUrl : '',
  pool: Number(values.pool),
};
const server = await startServer(variant, ctx, '/plaintext', [
  '--cpu-prof',
  `--cpu-prof-dir=${dir}`,
]);
let line: string;
// Samples from before the measured run are left out when there is a warm-up.
let measuredFromUs = 0;
try {
  const shape = {
    path: spec.path(Number(values.queries)),
    connections: Number(values.connections),
    pipeline: spec.pipeline,
    headers: { accept: spec.accept },
  };
  const warmup = Number(values.warmup);
  if (warmup > 0) {
    await warmAndMeasure(server, ctx, shape, 0, warmup);
    measuredFromUs = Number(process.hrtime.bigint() / 1000n);
  }
  const run = await warmAndMeasure(server, ctx, shape, 0, Number(values.duration));
  line = `${variant.name} ${spec.name} under the profiler: ${Math.round(run.rps).toLocaleString('en-US')} req/s, p99 ${run.p99Ms?.toFixed(2) ?? '?'} ms, server cpu ${run.cpu?.server}`;
} finally {
  await server.stop();
}
const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
const reports: string[] = [line];
for (const f of files) {
  const whole = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
  const profile = measuredFromUs > 0 ? profileFrom(whole, measuredFromUs) : whole;
  reports.push(
    `\n== ${f} (${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s)\n${formatProfile(summarizeProfile(profile), Number(values.top))}`,
  );
}
const text = `${reports.join('\n')}\n`;
writeFileSync(join(dir, 'summary.txt'), text);
process.stdout.write(`${text}\nprofiles and summary in ${dir}\n`);
