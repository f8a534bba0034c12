import { isDeepStrictEqual } from 'node:util';
import {
  EXTRA_FORTUNE_MESSAGE,
  type Fortune,
  WORLD_ROWS,
  type World,
} from '../servers/common/rules.ts';

/**
 * TechEmpower's published rules as checks on one HTTP exchange. Each check returns the list of
 * problems found (empty: the response follows the rules). The runner checks every server this
 * way before it measures it, and a server that breaks a rule is reported, not measured.
 */

/** A received response: lower-case header names, the raw body bytes. */
export interface Exchange {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** The media type of a Content-Type value, lower case, without parameters. */
export function essence(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The charset parameter of a Content-Type value, lower case. */
export function charset(contentType: string | undefined): string | undefined {
  const m = (contentType ?? '').match(/;\s*charset\s*=\s*"?([^";\s]+)"?/i);
  return m?.[1]?.toLowerCase();
}

/** Status 200, Server and Date headers, the right Content-Type, a correct body length. */
export function checkHeaders(ex: Exchange, type: string): string[] {
  const problems: string[] = [];
  if (ex.status !== 200) problems.push(`status ${ex.status}, not 200`);
  if (!ex.headers.server) problems.push('no Server header');
  const date = ex.headers.date;
  if (!date) problems.push('no Date header');
  else if (!IMF_FIXDATE.test(date)) problems.push(`Date header "${date}" is not an HTTP date`);
  if (essence(ex.headers['content-type']) !== type) {
    problems.push(`Content-Type "${ex.headers['content-type'] ?? ''}", not ${type}`);
  }
  const length = ex.headers['content-length'];
  const chunked = /\bchunked\b/i.test(ex.headers['transfer-encoding'] ?? '');
  if (length === undefined && !chunked) {
    problems.push('neither Content-Length nor chunked Transfer-Encoding');
  } else if (length !== undefined && Number(length) !== ex.body.length) {
    problems.push(`Content-Length ${length} but ${ex.body.length} body bytes`);
  }
  return problems;
}

function parseJson(ex: Exchange, problems: string[]): unknown {
  try {
    return JSON.parse(ex.body.toString('utf8'));
  } catch {
    problems.push(`body is not JSON: ${ex.body.toString('utf8').slice(0, 80)}`);
    return undefined;
  }
}

/** json: `{"message":"Hello, World!"}` as application/json. */
export function checkJson(ex: Exchange): string[] {
  const problems = checkHeaders(ex, 'application/json');
  const value = parseJson(ex, problems);
  if (value !== undefined && !isDeepStrictEqual(value, { message: 'Hello, World!' })) {
    problems.push(`body ${JSON.stringify(value)} is not {"message":"Hello, World!"}`);
  }
  return problems;
}

/** plaintext: `Hello, World!` as text/plain. */
export function checkPlaintext(ex: Exchange): string[] {
  const problems = checkHeaders(ex, 'text/plain');
  const text = ex.body.toString('utf8');
  if (text !== 'Hello, World!') problems.push(`body "${text.slice(0, 80)}" is not "Hello, World!"`);
  return problems;
}

/** Whether a value is a World row: exactly `id` and `randomNumber`, integers in 1..10,000. */
export function worldProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `${JSON.stringify(value)} is not an object`;
  }
  const keys = Object.keys(value).sort();
  if (keys.join() !== 'id,randomNumber') {
    return `keys ${keys.join(', ')} are not id, randomNumber`;
  }
  const w = value as Record<string, unknown>;
  for (const k of ['id', 'randomNumber']) {
    const v = w[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > WORLD_ROWS) {
      return `${k} ${JSON.stringify(v)} is not an integer in 1..${WORLD_ROWS}`;
    }
  }
  return undefined;
}

/** db: one World object (not an array). Returns the row when it is one. */
export function checkSingleWorld(ex: Exchange): { problems: string[]; row?: World } {
  const problems = checkHeaders(ex, 'application/json');
  const value = parseJson(ex, problems);
  if (value === undefined) return { problems };
  const p = worldProblem(value);
  if (p !== undefined) {
    problems.push(p);
    return { problems };
  }
  return { problems, row: value as World };
}

/** queries, updates, cached-queries: an array of exactly `count` World objects. */
export function checkWorldArray(
  ex: Exchange,
  count: number,
): { problems: string[]; rows?: World[] } {
  const problems = checkHeaders(ex, 'application/json');
  const value = parseJson(ex, problems);
  if (value === undefined) return { problems };
  if (!Array.isArray(value)) {
    problems.push('body is not a JSON array');
    return { problems };
  }
  if (value.length !== count) problems.push(`${value.length} rows, not ${count}`);
  for (const item of value) {
    const p = worldProblem(item);
    if (p !== undefined) {
      problems.push(p);
      return { problems };
    }
  }
  return { problems, rows: value as World[] };
}

/** Rows whose values differ from the database's (each id must hold one of the values sent for it). */
export function worldsMismatch(
  rows: readonly World[],
  stored: ReadonlyMap<number, number>,
): string[] {
  const sent = new Map<number, Set<number>>();
  for (const r of rows) {
    if (!sent.has(r.id)) sent.set(r.id, new Set());
    sent.get(r.id)!.add(r.randomNumber);
  }
  const problems: string[] = [];
  for (const [id, values] of sent) {
    const v = stored.get(id);
    if (v === undefined || !values.has(v)) {
      problems.push(`row ${id}: sent ${[...values].join('/')}, the database holds ${v}`);
    }
  }
  return problems;
}

/** The query counts TechEmpower's verifier asks for, and the row count each must give. */
export const QUERY_CASES: ReadonlyArray<{ raw: string | null; rows: number }> = [
  { raw: null, rows: 1 },
  { raw: '', rows: 1 },
  { raw: 'foo', rows: 1 },
  { raw: '0', rows: 1 },
  { raw: '-5', rows: 1 },
  { raw: '1', rows: 1 },
  { raw: '20', rows: 20 },
  { raw: '501', rows: 500 },
];

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function unescapeHtml(text: string, problems: string[]): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);|&/gi, (all, ent: string | undefined) => {
    if (ent === undefined) {
      problems.push('an unescaped "&" in the page');
      return '&';
    }
    if (ent[0] === '#') {
      const code =
        ent[1] === 'x' || ent[1] === 'X' ? Number.parseInt(ent.slice(2), 16) : Number(ent.slice(1));
      return String.fromCodePoint(code);
    }
    const ch = ENTITIES[ent.toLowerCase()];
    if (ch === undefined) problems.push(`unknown entity ${all}`);
    return ch ?? all;
  });
}

/** The fortunes a page must show for these table rows: the rows plus the extra one, sorted. */
export function expectedFortunes(rows: readonly Fortune[]): Fortune[] {
  const all = rows.map((r) => ({ id: r.id, message: r.message }));
  all.push({ id: 0, message: EXTRA_FORTUNE_MESSAGE });
  return all.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
}

/**
 * fortunes: text/html in UTF-8; the page of the template, whitespace between tags aside; every
 * row of the table plus the one added at request time, sorted by message, with the messages
 * HTML-escaped (so the `<script>` fortune shows as text).
 */
export function checkFortunes(ex: Exchange, rows: readonly Fortune[]): string[] {
  const problems = checkHeaders(ex, 'text/html');
  if (charset(ex.headers['content-type']) !== 'utf-8') {
    problems.push(
      `Content-Type "${ex.headers['content-type'] ?? ''}" does not declare charset=utf-8`,
    );
  }
  const html = ex.body.toString('utf8');
  if (!Buffer.from(html, 'utf8').equals(ex.body)) problems.push('body is not valid UTF-8');
  const page = html.replace(/>\s+</g, '><').trim();
  const head =
    '<!doctype html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>';
  if (!page.toLowerCase().startsWith(head.toLowerCase())) {
    problems.push(`page does not start with the template's head: ${page.slice(0, 120)}`);
  }
  if (!page.toLowerCase().endsWith('</table></body></html>')) {
    problems.push('page does not end with </table></body></html>');
  }
  const body = page.slice(head.length, page.length - '</table></body></html>'.length);
  const got: Fortune[] = [];
  const rowRe = /<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><\/tr>/y;
  let at = 0;
  while (at < body.length) {
    rowRe.lastIndex = at;
    const m = rowRe.exec(body);
    if (m === null) {
      problems.push(`unexpected markup (an unescaped message?) at: ${body.slice(at, at + 80)}`);
      break;
    }
    got.push({ id: Number(m[1]), message: unescapeHtml(m[2]!, problems) });
    at = rowRe.lastIndex;
  }
  const want = expectedFortunes(rows);
  if (got.length !== want.length) problems.push(`${got.length} fortunes, not ${want.length}`);
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (g.id !== w.id || g.message !== w.message) {
      problems.push(`row ${i + 1} is ${g.id} "${g.message}", not ${w.id} "${w.message}"`);
      break;
    }
  }
  return [...new Set(problems)];
}
