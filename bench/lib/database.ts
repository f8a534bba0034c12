import pg from 'pg';
import type { Fortune } from '../servers/common/rules.ts';
import { WORLD_ROWS } from '../servers/common/rules.ts';

/** The Fortune table's rows, as TechEmpower publishes them (escaping and UTF-8 cases included). */
export const FORTUNES: readonly Fortune[] = [
  { id: 1, message: 'fortune: No such file or directory' },
  { id: 2, message: "A computer scientist is someone who fixes things that aren't broken." },
  { id: 3, message: 'After enough decimal places, nobody gives a damn.' },
  { id: 4, message: 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1' },
  {
    id: 5,
    message: 'A computer program does what you tell it to do, not what you want it to do.',
  },
  { id: 6, message: 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen' },
  { id: 7, message: 'Any program that runs right is obsolete.' },
  { id: 8, message: 'A list is only as strong as its weakest link. — Donald Knuth' },
  { id: 9, message: 'Feature: A bug with seniority.' },
  { id: 10, message: 'Computers make very fast, very accurate mistakes.' },
  {
    id: 11,
    message: '<script>alert("This should not be displayed in a browser alert box.");</script>',
  },
  { id: 12, message: 'フレームワークのベンチマーク' },
];

// Any constant works; it keeps two runners from seeding at once.
const SEED_LOCK = 7_355_608;

/** What `ensureDatabase` did. */
export interface SeedReport {
  /** Tables that were created or refilled. */
  filled: string[];
}

async function worldIsComplete(client: pg.Client, table: string): Promise<boolean> {
  const r = await client.query<{ n: string; lo: number | null; hi: number | null }>(
    `SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM ${table}`,
  );
  const row = r.rows[0]!;
  return Number(row.n) === WORLD_ROWS && row.lo === 1 && row.hi === WORLD_ROWS;
}

async function fillWorld(client: pg.Client, table: string): Promise<void> {
  await client.query(`TRUNCATE ${table}`);
  await client.query(
    `INSERT INTO ${table} (id, randomnumber)
     SELECT i, 1 + floor(random() * ${WORLD_ROWS})::int FROM generate_series(1, ${WORLD_ROWS}) AS i`,
  );
  await client.query(`ANALYZE ${table}`);
}

async function fortunesAreExact(client: pg.Client): Promise<boolean> {
  const r = await client.query<Fortune>('SELECT id, message FROM fortune ORDER BY id');
  return (
    r.rows.length === FORTUNES.length &&
    r.rows.every((row, i) => row.id === FORTUNES[i]!.id && row.message === FORTUNES[i]!.message)
  );
}

/**
 * Creates World and CachedWorld (10,000 rows each) and Fortune (12 rows) in the database when
 * they are missing or incomplete. Leaves complete tables alone, so repeated runs are cheap.
 */
export async function ensureDatabase(url: string): Promise<SeedReport> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  const filled: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SEED_LOCK]);
    for (const table of ['world', 'cachedworld']) {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${table} (id integer PRIMARY KEY, randomnumber integer NOT NULL DEFAULT 0)`,
      );
      if (!(await worldIsComplete(client, table))) {
        await fillWorld(client, table);
        filled.push(table);
      }
    }
    await client.query(
      'CREATE TABLE IF NOT EXISTS fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL)',
    );
    if (!(await fortunesAreExact(client))) {
      await client.query('TRUNCATE fortune');
      for (const f of FORTUNES) {
        await client.query('INSERT INTO fortune (id, message) VALUES ($1, $2)', [f.id, f.message]);
      }
      filled.push('fortune');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [SEED_LOCK]).catch(() => {});
    await client.end();
  }
  return { filled };
}
