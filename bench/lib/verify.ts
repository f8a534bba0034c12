import { request } from 'node:http';
import pg from 'pg';
import type { Fortune } from '../servers/common/rules.ts';
import { TESTS, type TestName } from './catalogue.ts';
import {
  checkFortunes,
  checkJson,
  checkPlaintext,
  checkSingleWorld,
  checkWorldArray,
  type Exchange,
  QUERY_CASES,
  worldsMismatch,
} from './rules.ts';

/** GETs a URL with the headers TechEmpower sends; resolves to the exchange. */
export function get(url: string, headers: Record<string, string> = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        const h: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(res.headers))
          h[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
      });
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** Reads the database the checks compare with. */
export interface Truth {
  worlds(table: 'world' | 'cachedworld', ids: readonly number[]): Promise<Map<number, number>>;
  fortunes(): Promise<Fortune[]>;
  /**
   * Runs `fn` holding a database-wide advisory lock, so two checkers (say CI and a developer's
   * `npm test` on the same database) never interleave one's updates with the other's read-back.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Any constant; shared by every checker of the World table.
const WORLD_LOCK = 7_355_609;

/** The database as the checks see it, through its own connection. */
export function databaseTruth(url: string): Truth {
  // One session: advisory locks belong to the connection that took them, and queries queue on it.
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  return {
    async worlds(table, ids) {
      await connected;
      const r = await client.query<{ id: number; randomnumber: number }>(
        `SELECT id, randomnumber FROM ${table} WHERE id = ANY($1::int[])`,
        [[...new Set(ids)]],
      );
      return new Map(r.rows.map((row) => [row.id, row.randomnumber]));
    },
    async fortunes() {
      await connected;
      return (await client.query<Fortune>('SELECT id, message FROM fortune')).rows;
    },
    async exclusive(fn) {
      await connected;
      await client.query('SELECT pg_advisory_lock($1)', [WORLD_LOCK]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [WORLD_LOCK]);
      }
    },
    close: () => client.end(),
  };
}

function withParam(path: string, name: string, raw: string | null): string {
  const base = path.split('?')[0]!;
  return raw === null ? base : `${base}?${name}=${encodeURIComponent(raw)}`;
}

/**
 * Requests one test's endpoint from a running server the ways TechEmpower's verifier does and
 * checks every answer against the rules (and the database). Returns the problems found.
 */
export async function verifyTest(
  baseUrl: string,
  test: TestName,
  truth: Truth | undefined,
): Promise<string[]> {
  // Checks that read World back must not overlap another checker's updates.
  if (truth !== undefined && (test === 'db' || test === 'queries' || test === 'updates')) {
    return truth.exclusive(() => checkTest(baseUrl, test, truth));
  }
  return checkTest(baseUrl, test, truth);
}

async function checkTest(
  baseUrl: string,
  test: TestName,
  truth: Truth | undefined,
): Promise<string[]> {
  const spec = TESTS[test];
  const headers = { accept: spec.accept };
  const fetchPath = (path: string) => get(`${baseUrl}${path}`, headers);
  const tag = (prefix: string, problems: string[]) => problems.map((p) => `${prefix}: ${p}`);
  if (spec.needsDatabase && truth === undefined)
    return ['needs the database, which is not available'];
  switch (test) {
    case 'json':
      return checkJson(await fetchPath('/json'));
    case 'plaintext':
    case 'pipelined':
      return checkPlaintext(await fetchPath('/plaintext'));
    case 'db': {
      const { problems, row } = checkSingleWorld(await fetchPath('/db'));
      if (row !== undefined) {
        problems.push(...worldsMismatch([row], await truth!.worlds('world', [row.id])));
      }
      return problems;
    }
    case 'fortunes':
      return checkFortunes(await fetchPath('/fortunes'), await truth!.fortunes());
    case 'queries':
    case 'updates':
    case 'cached-queries': {
      const param = test === 'cached-queries' ? 'count' : 'queries';
      const table = test === 'cached-queries' ? 'cachedworld' : 'world';
      const all: string[] = [];
      for (const c of QUERY_CASES) {
        const path = withParam(spec.path(1), param, c.raw);
        const { problems, rows } = checkWorldArray(await fetchPath(path), c.rows);
        if (rows !== undefined) {
          const stored = await truth!.worlds(
            table,
            rows.map((r) => r.id),
          );
          problems.push(...worldsMismatch(rows, stored));
        }
        all.push(...tag(path, problems));
      }
      return all;
    }
  }
}
