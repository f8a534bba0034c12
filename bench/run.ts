/**
 * `npm run bench`: the TechEmpower test types for Peregrine and its peers, measured in one run on
 * this machine, and the scaling test (`--scaling`). See docs/performance.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type BenchOptions, parseBenchArgs, USAGE, UsageError } from './lib/args.ts';
import { TEST_NAMES, TESTS } from './lib/catalogue.ts';
import { ensureDatabase } from './lib/database.ts';
import { chooseLoadGenerator } from './lib/load.ts';
import {
  commitInfo,
  hardFileLimit,
  machineInfo,
  planCpus,
  redactUrl,
  runtimeInfo,
  tasksetWorks,
} from './lib/machine.ts';
import { formatScaling, runScaling, SCALING_TARGET, scalingVerdicts } from './lib/scaling.ts';
import { ROOT, SCALING_SERVERS, SERVERS, type ServerVariant, serverByName } from './lib/servers.ts';
import { type SessionContext, warmCompileCache } from './lib/session.ts';
import { BASELINE, formatTable, formatTargets } from './lib/stats.ts';
import { estimateSeconds, progress, runTechEmpower } from './lib/techempower.ts';
import { databaseTruth, type Truth } from './lib/verify.ts';

async function availability(
  variants: readonly ServerVariant[],
): Promise<Array<{ variant: ServerVariant; ok: true | string }>> {
  return Promise.all(variants.map(async (variant) => ({ variant, ok: await variant.available() })));
}

/** The servers to run and the ones left out (with why). */
async function chooseServers(
  opts: BenchOptions,
  pool: readonly string[] | undefined,
): Promise<{ servers: ServerVariant[]; unavailable: Array<{ server: string; reason: string }> }> {
  const candidates = pool ? SERVERS.filter((s) => pool.includes(s.name)) : SERVERS;
  const unavailable: Array<{ server: string; reason: string }> = [];
  let wanted: ServerVariant[];
  if (opts.servers !== undefined) {
    wanted = opts.servers.map((name) => {
      const v = serverByName(name);
      if (v === undefined) {
        throw new UsageError(
          `unknown server "${name}"; servers are ${SERVERS.map((s) => s.name).join(', ')}`,
        );
      }
      return v;
    });
  } else {
    wanted = candidates.filter((s) => !opts.quick || s.quick);
  }
  // Ratios need the baseline measured in the same run.
  const baseline = serverByName(BASELINE)!;
  if (!wanted.includes(baseline)) wanted.unshift(baseline);
  const servers: ServerVariant[] = [];
  for (const { variant, ok } of await availability(wanted)) {
    if (ok === true) servers.push(variant);
    else if (opts.servers?.includes(variant.name)) throw new UsageError(`${variant.name}: ${ok}`);
    else unavailable.push({ server: variant.name, reason: ok });
  }
  return { servers, unavailable };
}

async function list(): Promise<void> {
  process.stdout.write('Tests:\n');
  for (const t of TEST_NAMES) process.stdout.write(`  ${t.padEnd(15)} ${TESTS[t].description}\n`);
  process.stdout.write('\nServers:\n');
  for (const { variant, ok } of await availability(SERVERS)) {
    process.stdout.write(
      `  ${variant.name.padEnd(28)} ${variant.label}${ok === true ? '' : `  [unavailable: ${ok}]`}\n`,
    );
  }
}

async function prepareDatabase(
  url: string,
): Promise<{ truth?: Truth; problem?: string; filled: string[] }> {
  try {
    const { filled } = await ensureDatabase(url);
    if (filled.length > 0) progress(`database: created/filled ${filled.join(', ')}`);
    return { truth: databaseTruth(url), filled };
  } catch (err) {
    return { problem: `database unavailable (${(err as Error).message})`, filled: [] };
  }
}

function writeResults(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts.mode === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.mode === 'list') {
    await list();
    return 0;
  }

  const started = Date.now();
  const machine = machineInfo();
  const cpus = planCpus(machine.cores, opts.pin, tasksetWorks());
  const load = await chooseLoadGenerator(opts.load);
  const { commit, dirty } = commitInfo();
  const { servers, unavailable } = await chooseServers(
    opts,
    opts.mode === 'scaling' ? SCALING_SERVERS : undefined,
  );
  for (const u of unavailable) progress(`skipping ${u.server}: ${u.reason}`);
  if (machine.loadAverage > machine.cores * 0.5) {
    progress(
      `note: load average ${machine.loadAverage} on ${machine.cores} cores; numbers will be noisy`,
    );
  }
  const needsDb = opts.mode === 'techempower' && opts.tests.some((t) => TESTS[t].needsDatabase);
  const db = needsDb ? await prepareDatabase(opts.databaseUrl) : { filled: [] as string[] };
  if ('problem' in db && db.problem) progress(`${db.problem}: the db tests are skipped`);

  const ctx: SessionContext = {
    load,
    cpus,
    databaseUrl: needsDb && db.truth ? opts.databaseUrl : '',
    pool: opts.pool,
  };
  const header = {
    schema: 1,
    date: new Date(started).toISOString(),
    commit,
    dirty,
    machine,
    runtime: runtimeInfo(),
    loadGenerator: { name: load.name, version: load.version },
    cpus: { ...cpus, pinned: cpus.server !== null },
    openFileLimit: hardFileLimit(),
    options: {
      quick: opts.quick,
      duration: opts.duration,
      warmup: opts.warmup,
      repeats: opts.repeats,
      connections: opts.connections,
      queries: opts.queries,
      pool: opts.pool,
    },
    unavailable,
  };
  progress(
    `bench: ${servers.map((s) => s.name).join(', ')} with ${load.name} ${load.version}; ` +
      (cpus.server ? `server on cpu ${cpus.server}, load on cpu ${cpus.load}` : 'not pinned'),
  );

  if (opts.mode === 'scaling') {
    progress(
      `scaling: ${opts.scalingConnections.join(', ')} connections, responder awaits ${opts.scalingDelay} ms; about ${Math.round(
        (opts.scalingConnections.length + 1) *
          servers.length *
          opts.repeats *
          (opts.warmup + opts.duration + 2),
      )} s`,
    );
    progress('filling the compile cache (each server started once)');
    await warmCompileCache(servers, ctx, ['/io?ms=0']);
    const records = await runScaling(opts, servers, ctx);
    const verdicts = scalingVerdicts(records);
    const file = opts.output ?? join(ROOT, 'bench', 'results', 'scaling.json');
    writeResults(file, {
      ...header,
      kind: 'scaling',
      scaling: {
        delayMs: opts.scalingDelay,
        connections: opts.scalingConnections,
        target: SCALING_TARGET,
      },
      records,
      verdicts,
      elapsedS: Math.round((Date.now() - started) / 1000),
    });
    process.stdout.write(
      `\n${formatScaling(records)}\n\n${verdicts.join('\n')}\n\nwritten to ${file}\n`,
    );
    return 0;
  }

  progress(`about ${estimateSeconds(opts, servers.length, opts.tests.length)} s`);
  try {
    progress('filling the compile cache (each server started once, every path asked)');
    await warmCompileCache(
      servers,
      ctx,
      opts.tests
        .filter((t) => !TESTS[t].needsDatabase || ctx.databaseUrl !== '')
        .map((t) => TESTS[t].path(opts.queries)),
    );
    const { records, targets } = await runTechEmpower(opts, servers, ctx, db.truth, db.problem);
    const file = opts.output ?? join(ROOT, 'bench', 'results', 'latest.json');
    writeResults(file, {
      ...header,
      kind: 'techempower',
      database: needsDb
        ? { url: redactUrl(opts.databaseUrl), filled: db.filled, error: db.problem ?? null }
        : null,
      records,
      targets,
      elapsedS: Math.round((Date.now() - started) / 1000),
    });
    process.stdout.write(
      `\n${formatTable(
        records,
        servers.map((s) => s.name),
      )}\n\n${formatTargets(targets)}\n\n` +
        `${machine.cpuModel}, ${machine.cores} cores; Node ${process.versions.node}; ${load.name} ${load.version}; ` +
        `commit ${commit.slice(0, 10)}${dirty ? ' (dirty)' : ''}; ${Math.round((Date.now() - started) / 1000)} s\n` +
        `written to ${file}\n`,
    );
  } finally {
    await db.truth?.close();
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
