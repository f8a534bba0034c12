/**
 * `npm run bench:peak-rss`: one TechEmpower test, Peregrine against raw node:http side by side,
 * for issue 19's "a worker's peak RSS ≤ 1.2× raw node's under every test". Each repeat starts
 * every server fresh (order rotated), warms it up and measures it exactly as `npm run bench` does
 * (same servers, cores, load generator, sampling of the process group's RSS every 100 ms), and
 * also reads each process's own high-water mark (VmHWM) before stopping it. With `--probe`, every
 * server process preloads `bench/lib/memory-probe.ts`, which reports the peak of
 * `process.memoryUsage()` and the V8 heap spaces at the moment RSS peaked.
 *
 *   flock /tmp/peregrine-load.lock npm run bench:peak-rss -- --test db --repeats 3 --probe
 *
 * Options: --test NAME (db), --servers a,b (peregrine,node), --repeats N (3), --duration S (5),
 * --warmup S (2), -c N (64), --queries N (20), --pool N (16), --probe, --node-flags "…" (every
 * server), --flags SERVER="…" (one server's extra node flags), --env SERVER:K=V (one server's
 * extra environment; SERVER `*` for all), --json FILE (write the records). A server named
 * `variant#tag` is a copy of the variant, to compare flags or environment in one run.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { isTestName, TESTS } from './lib/catalogue.ts';
import { groupPids } from './lib/cpu-usage.ts';
import { ensureDatabase } from './lib/database.ts';
import { chooseLoadGenerator } from './lib/load.ts';
import { machineInfo, planCpus, tasksetWorks } from './lib/machine.ts';
import { ROOT, type ServerVariant, serverByName } from './lib/servers.ts';
import {
  type SessionContext,
  startServer,
  warmAndMeasure,
  warmCompileCache,
} from './lib/session.ts';
import { rotation } from './lib/techempower.ts';
import { databaseTruth, verifyTest } from './lib/verify.ts';

const { values } = parseArgs({
  options: {
    test: { type: 'string', default: 'db' },
    servers: { type: 'string', default: 'peregrine,node' },
    repeats: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', short: 'c', default: '64' },
    queries: { type: 'string', default: '20' },
    pool: { type: 'string', default: '16' },
    probe: { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
    flags: { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
    json: { type: 'string' },
  },
});

const test = values.test;
if (!isTestName(test)) throw new Error(`unknown test ${test}`);
const spec = TESTS[test];
const repeats = Number(values.repeats);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const queries = Number(values.queries);
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const split = (s: string) => s.split(/\s+/).filter(Boolean);
const commonFlags = split(values['node-flags']);
const serverFlags = new Map<string, string[]>();
for (const f of values.flags) {
  const eq = f.indexOf('=');
  serverFlags.set(f.slice(0, eq), split(f.slice(eq + 1)));
}
const serverEnv = new Map<string, Record<string, string>>();
for (const e of values.env) {
  const colon = e.indexOf(':');
  const eq = e.indexOf('=', colon);
  const name = e.slice(0, colon);
  serverEnv.set(name, { ...serverEnv.get(name), [e.slice(colon + 1, eq)]: e.slice(eq + 1) });
}

/** A variant with this run's extra environment. */
function withEnv(v: ServerVariant): ServerVariant {
  const extra = { ...serverEnv.get('*'), ...serverEnv.get(v.name) };
  return {
    ...v,
    launch: (ctx) => {
      const l = v.launch(ctx);
      return { args: l.args, env: { ...l.env, ...extra } };
    },
  };
}

// `name#tag` runs the same variant again under another name, so `--flags`/`--env` can set the
// copies apart (e.g. `--servers peregrine,peregrine#ss16,node --flags peregrine#ss16=…`).
const servers = values.servers.split(',').map((full) => {
  const v = serverByName(full.split('#')[0]!);
  if (v === undefined) throw new Error(`unknown server ${full}`);
  return withEnv({ ...v, name: full });
});

const MiB = 1024;
async function hwmMiB(pid: number): Promise<number | null> {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Math.round((Number(m[1]) / MiB) * 10) / 10 : null;
  } catch {
    return null;
  }
}

interface ProbeReport {
  pid: number;
  typeStripper: boolean;
  peakMiB: Record<string, number>;
  atPeakRssMiB: Record<string, number>;
}

interface Row {
  server: string;
  repeat: number;
  rps: number;
  p99Ms: number | null;
  errors: number;
  /** Peak RSS of the process group sampled during the measured run (what `npm run bench` shows). */
  groupPeakMiB: number | null;
  /** Per process: VmHWM (whole life, warm-up and check included). */
  hwm: Array<{ pid: number; hwmMiB: number | null }>;
  /** The largest process's VmHWM: the worker's, for a pre-fork server. */
  workerHwmMiB: number | null;
  cpuUsPerReq: number | null;
  probes: ProbeReport[];
}

const machine = machineInfo();
const cpus = planCpus(machine.cores, true, tasksetWorks());
const load = await chooseLoadGenerator('auto');
let truth: ReturnType<typeof databaseTruth> | undefined;
if (spec.needsDatabase) {
  await ensureDatabase(databaseUrl);
  truth = databaseTruth(databaseUrl);
}
const ctx: SessionContext = {
  load,
  cpus,
  databaseUrl: spec.needsDatabase ? databaseUrl : '',
  pool: Number(values.pool),
};

/** The extra Node flags of a server in this run (the same when filling the compile cache). */
const flagsOf = (variant: ServerVariant): string[] => [
  ...(values.probe ? ['--import', join(ROOT, 'bench', 'lib', 'memory-probe.ts')] : []),
  ...commonFlags,
  ...(serverFlags.get(variant.name) ?? []),
];

const rows: Row[] = [];
const verified = new Set<string>();
const probeRoot = mkdtempSync(join(tmpdir(), 'peak-rss-'));
process.stderr.write(
  `peak-rss: ${test} c=${connections}, ${servers.map((s) => s.name).join(' vs ')}, ${repeats}×(${warmup}+${duration} s), ${load.name}, load avg ${machine.loadAverage}\n`,
);
try {
  await warmCompileCache(servers, ctx, [spec.path(queries)], flagsOf);
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const variant of rotation(servers, repeat)) {
      const dir = join(probeRoot, `${variant.name}-${repeat}`);
      rmSync(dir, { recursive: true, force: true });
      process.env.BENCH_MEMORY_PROBE_DIR = values.probe ? mkdtempSync(`${dir}-`) : '';
      const server = await startServer(variant, ctx, '/plaintext', flagsOf(variant));
      const probeDir = process.env.BENCH_MEMORY_PROBE_DIR;
      try {
        if (!verified.has(variant.name)) {
          const problems = await verifyTest(server.baseUrl, test, truth);
          if (problems.length > 0)
            throw new Error(`${variant.name}: rule check failed: ${problems.join('; ')}`);
          verified.add(variant.name);
        }
        const run = await warmAndMeasure(
          server,
          ctx,
          {
            path: spec.path(queries),
            connections,
            pipeline: spec.pipeline,
            headers: { accept: spec.accept },
          },
          warmup,
          duration,
        );
        const pids = await groupPids(server.process.pid);
        const hwm = await Promise.all(
          pids.map(async (pid) => ({ pid, hwmMiB: await hwmMiB(pid) })),
        );
        await server.stop();
        const probes: ProbeReport[] = [];
        if (probeDir) {
          for (const f of readdirSync(probeDir)) {
            if (f.endsWith('.heapprofile')) {
              const to = join(
                ROOT,
                'bench',
                'results',
                'profiles',
                `${variant.name}-${test}-${repeat}-${f}`,
              );
              mkdirSync(dirname(to), { recursive: true });
              copyFileSync(join(probeDir, f), to);
              process.stderr.write(`      heap profile: ${to}\n`);
              continue;
            }
            probes.push(JSON.parse(readFileSync(join(probeDir, f), 'utf8')) as ProbeReport);
          }
        }
        const row: Row = {
          server: variant.name,
          repeat,
          rps: Math.round(run.rps),
          p99Ms: run.p99Ms,
          errors: run.errors + run.non2xx,
          groupPeakMiB: run.rssMiB,
          hwm,
          workerHwmMiB: Math.max(...hwm.map((h) => h.hwmMiB ?? 0)),
          cpuUsPerReq: run.cpu && run.rps > 0 ? (run.cpu.server * 1e6) / run.rps : null,
          probes,
        };
        rows.push(row);
        const p = probes.find((x) => x.pid === hwm.find((h) => h.hwmMiB === row.workerHwmMiB)?.pid);
        process.stderr.write(
          `  [${repeat + 1}/${repeats}] ${variant.name.padEnd(22)} ${String(row.rps).padStart(7)} req/s  peak RSS ${row.groupPeakMiB} MiB (group, sampled)  VmHWM ${hwm.map((h) => h.hwmMiB).join('+')} MiB` +
            (row.cpuUsPerReq !== null ? `  ${row.cpuUsPerReq.toFixed(1)} µs/req` : '') +
            (row.errors ? `  ${row.errors} errors` : '') +
            (p
              ? `\n      at peak: ${JSON.stringify(p.atPeakRssMiB)}${p.typeStripper ? ' (type stripper loaded)' : ''}`
              : '') +
            '\n',
        );
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  rmSync(probeRoot, { recursive: true, force: true });
  await truth?.close();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const summary = servers.map((v) => {
  const rs = rows.filter((r) => r.server === v.name);
  return {
    server: v.name,
    rps: median(rs.map((r) => r.rps)),
    groupPeakMiB: Math.max(...rs.map((r) => r.groupPeakMiB ?? 0)),
    workerHwmMiB: Math.max(...rs.map((r) => r.workerHwmMiB ?? 0)),
    cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq ?? 0)),
  };
});
const base = summary.find((s) => s.server === 'node') ?? summary[summary.length - 1]!;
process.stdout.write(
  `\n${test} c=${connections}: median req/s, max peak RSS over ${repeats} runs\n` +
    '| server | req/s | vs node | cpu µs/req | peak RSS MiB (group, sampled) | vs node | worker VmHWM MiB | vs node |\n' +
    '|---|--:|--:|--:|--:|--:|--:|--:|\n',
);
for (const s of summary) {
  const r = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  process.stdout.write(
    `| ${s.server} | ${s.rps} | ${r(s.rps, base.rps)} | ${s.cpuUsPerReq.toFixed(1)} | ${s.groupPeakMiB} | ${r(s.groupPeakMiB, base.groupPeakMiB)} | ${s.workerHwmMiB} | ${r(s.workerHwmMiB, base.workerHwmMiB)} |\n`,
  );
}
if (values.json)
  writeFileSync(values.json, `${JSON.stringify({ test, rows, summary }, null, 2)}\n`);
