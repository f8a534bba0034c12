/**
 * `npm run bench:db-telemetry`: what the data path's telemetry costs per PostgreSQL statement.
 * 64 concurrent callers run one-row SELECTs through a 16-connection PostgresPool for a fixed time;
 * the process's CPU time per statement is measured with the db telemetry unsubscribed (off) and
 * subscribed (on: a `db_client_operation_duration_seconds` observation per statement; no request
 * is around, so no span), and subscribed inside a request's unsampled trace (traced: what a db
 * request pays — its server span, started for the statement's client span, and that child span;
 * neither kept). Each mode runs in its own child process, alternating, `--rounds` times.
 *
 *   flock /tmp/peregrine-load.lock npm run bench:db-telemetry -- --rounds 3 --seconds 2.5
 *
 * Needs DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); the query needs no table.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const URL_DEFAULT = 'postgres://postgres@127.0.0.1:5432/test';
const TEXT = 'SELECT $1::int AS id, 42 AS "randomNumber"';
const CONCURRENCY = 64;

async function child(mode: string, seconds: number): Promise<void> {
  const { PostgresPool } = await import('../src/db/pool/postgres.ts');
  let inRequest = <T>(fn: () => Promise<T>): Promise<T> => fn();
  if (mode !== 'off') {
    // Every trace unsampled, as 99% are by default: nothing is kept or exported.
    process.env.OTEL_TRACES_SAMPLER_ARG = '0';
    const { recorder } = await import('../src/telemetry/worker/recorder.ts');
    const rec = recorder();
    rec.observeDataPath();
    const tracing = rec.tracing;
    if (mode === 'traced' && tracing !== undefined) {
      const { contextManager, SpanOnlyContext } = await import(
        '../src/telemetry/tracing/context.ts'
      );
      const { startServerSpan } = await import('../src/telemetry/tracing/tracer.ts');
      inRequest = async (fn) => {
        const server = startServerSpan(tracing, 'GET', undefined, Date.now());
        try {
          return await contextManager.storage.run(new SpanOnlyContext(server), fn);
        } finally {
          server.end();
        }
      };
    }
  }
  const db = new PostgresPool({ url: process.env.DATABASE_URL ?? URL_DEFAULT, max: 16 });
  await db.open();
  let n = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await inRequest(() => db.query(TEXT, [1 + ((Math.random() * 10_000) | 0)]));
      n++;
    }
  };
  const run = async (ms: number) => {
    stop = false;
    n = 0;
    const c0 = process.cpuUsage();
    const loops = Array.from({ length: CONCURRENCY }, loop);
    setTimeout(() => {
      stop = true;
    }, ms);
    await Promise.all(loops);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  await run(1000); // warm-up: JIT and connections
  process.stdout.write(`${(await run(seconds * 1000)).toFixed(3)}\n`);
  await db.close();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '2.5' },
    },
  });
  const seconds = Number(values.seconds);
  if (values.child !== undefined) return child(values.child, seconds);
  const modes = ['off', 'on', 'traced'];
  const results: Record<string, number[]> = { off: [], on: [], traced: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const mode of modes) {
      const out = spawnSync(
        process.execPath,
        [
          '--conditions=peregrine-source',
          fileURLToPath(import.meta.url),
          '--child',
          mode,
          '--seconds',
          String(seconds),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const us = Number(out.stdout.trim());
      if (!Number.isFinite(us)) throw new Error(`the ${mode} child failed: ${out.stdout}`);
      results[mode]!.push(us);
      console.log(`round ${r + 1} ${mode}: ${us.toFixed(2)} µs CPU per statement`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const off = median(results.off!);
  for (const mode of modes.slice(1)) {
    const m = median(results[mode]!);
    console.log(
      `median ${mode}: ${m.toFixed(2)} µs per statement against off ${off.toFixed(2)}: +${(m - off).toFixed(2)} µs (${(((m - off) / off) * 100).toFixed(1)}%)`,
    );
  }
}

await main();
