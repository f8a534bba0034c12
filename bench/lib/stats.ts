import { TEST_NAMES, type TestName } from './catalogue.ts';
import type { CpuSplit } from './cpu-usage.ts';

/** One measured run of the load generator against one server. */
export interface RunMeasurement {
  /** Responses received. */
  requests: number;
  /** Seconds the run lasted. */
  durationS: number;
  /** Responses per second. */
  rps: number;
  /** Median latency, ms. */
  p50Ms: number | null;
  /** 99th percentile latency, ms. */
  p99Ms: number | null;
  /** Socket errors and timeouts. */
  errors: number;
  /** Responses that were not 2xx (with wrk: status >= 400). */
  non2xx: number;
  /** Peak resident memory of the server's processes during the run, MiB. */
  rssMiB: number | null;
  /** Cores busy on average during the run: the server, the load generator, everything else. */
  cpu: CpuSplit | null;
}

/** One line of the results: a server on a test at a concurrency. */
export interface ResultRecord {
  /** Server variant id (`peregrine`, `node`, `fastify`, …). */
  server: string;
  /** Human name of the variant. */
  label: string;
  test: TestName;
  /** Open connections. */
  concurrency: number;
  /** Pipelining depth (1: none). */
  pipeline: number;
  /** N of the query tests, else null. */
  queries: number | null;
  /** `ok`, or `failed` (a rule check or the server failed: not measured), or `skipped`. */
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
  /** Median requests per second over the runs. */
  rps: number | null;
  /** Median of the runs' p50 latency, ms. */
  p50Ms: number | null;
  /** Median of the runs' p99 latency, ms. */
  p99Ms: number | null;
  /** Socket errors and timeouts, summed over the runs. */
  errors: number;
  /** Non-2xx responses, summed over the runs. */
  non2xx: number;
  /** Responses, summed over the runs. */
  requests: number;
  /** Largest peak RSS over the runs, MiB. */
  rssMiB: number | null;
  /** (max − min) / median of the runs' requests per second: how much the runs disagree. */
  spread: number | null;
  /** Median over the runs of the cores used by the server, the load generator and the rest. */
  cpu: CpuSplit | null;
  /**
   * Server CPU time per response, µs (median over the runs). Unlike throughput it barely moves
   * when other work on the machine steals cycles, so it shows a server's own cost.
   */
  cpuUsPerRequest: number | null;
  /** rps divided by raw node:http's on the same test and concurrency in this run. */
  ratioToNode: number | null;
  /** Raw node:http's CPU per response divided by this server's: the throughput ratio to expect when both are CPU-bound. */
  cpuRatioToNode: number | null;
  /**
   * Peak RSS of the server's processes divided by raw node:http's on the same test and load
   * (issue 19: a worker's peak ≤ 1.2× node's; multi-process variants count master and workers).
   */
  rssRatioToNode: number | null;
  /** Every measured run, in order. */
  runs: RunMeasurement[];
}

/** The median of some numbers (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The median of the values present, or null when none is. */
export function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : median(present);
}

/** Folds the measured runs of one server/test/concurrency into the reported numbers. */
export function summarize(
  runs: readonly RunMeasurement[],
): Pick<
  ResultRecord,
  | 'rps'
  | 'p50Ms'
  | 'p99Ms'
  | 'errors'
  | 'non2xx'
  | 'requests'
  | 'rssMiB'
  | 'spread'
  | 'cpu'
  | 'cpuUsPerRequest'
> {
  if (runs.length === 0) {
    return {
      rps: null,
      p50Ms: null,
      p99Ms: null,
      errors: 0,
      non2xx: 0,
      requests: 0,
      rssMiB: null,
      spread: null,
      cpu: null,
      cpuUsPerRequest: null,
    };
  }
  const perRequest = runs
    .filter((r) => r.cpu !== null && r.rps > 0)
    .map((r) => (r.cpu!.server * 1e6) / r.rps);
  const cpus = runs.map((r) => r.cpu).filter((c): c is CpuSplit => c !== null);
  const rps = median(runs.map((r) => r.rps));
  const rates = runs.map((r) => r.rps);
  const rss = runs.map((r) => r.rssMiB).filter((v): v is number => v !== null);
  return {
    rps,
    p50Ms: medianOrNull(runs.map((r) => r.p50Ms)),
    p99Ms: medianOrNull(runs.map((r) => r.p99Ms)),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    requests: runs.reduce((s, r) => s + r.requests, 0),
    rssMiB: rss.length === 0 ? null : Math.max(...rss),
    spread: rps > 0 ? (Math.max(...rates) - Math.min(...rates)) / rps : null,
    cpu:
      cpus.length === 0
        ? null
        : {
            server: median(cpus.map((c) => c.server)),
            load: median(cpus.map((c) => c.load)),
            other: median(cpus.map((c) => c.other)),
          },
    cpuUsPerRequest: perRequest.length === 0 ? null : round(median(perRequest), 2),
  };
}

/** The baseline every ratio is taken against. */
export const BASELINE = 'node';

/** Sets `ratioToNode` on every record from the baseline's record of the same test and load. */
export function addRatios(records: ResultRecord[], baseline = BASELINE): void {
  for (const r of records) {
    const base = records.find(
      (b) =>
        b.server === baseline &&
        b.test === r.test &&
        b.concurrency === r.concurrency &&
        b.status === 'ok',
    );
    r.ratioToNode =
      r.status === 'ok' && r.rps !== null && base?.rps ? round(r.rps / base.rps, 3) : null;
    r.cpuRatioToNode =
      r.status === 'ok' && r.cpuUsPerRequest && base?.cpuUsPerRequest
        ? round(base.cpuUsPerRequest / r.cpuUsPerRequest, 3)
        : null;
    r.rssRatioToNode =
      r.status === 'ok' && r.rssMiB && base?.rssMiB ? round(r.rssMiB / base.rssMiB, 3) : null;
  }
}

/** A performance target of the project and whether this run met it. */
export interface TargetCheck {
  /** The Peregrine variant checked. */
  server: string;
  test: TestName;
  concurrency: number;
  /** The server compared with (the same server when `againstTest` is set). */
  against: string;
  /** Set when the comparison is with the same server on another test (cached-queries vs json). */
  againstTest?: TestName;
  /** The smallest acceptable ratio. */
  wanted: number;
  /** The measured ratio (null when either side was not measured). */
  got: number | null;
  /** The ratio of CPU per response (theirs / ours): what `got` would be if both were CPU-bound. */
  gotByCpu: number | null;
  met: boolean | null;
}

/**
 * The targets of issues 2, 5 and 6: Peregrine >= 0.95x raw node:http on json, plaintext, db and
 * fortunes, >= 1.15x Fastify on json and plaintext, and cached-queries >= 0.8x of its own json
 * (`againstTest`: the same server on that test).
 */
export const TARGETS: ReadonlyArray<{
  test: TestName;
  against: string;
  againstTest?: TestName;
  wanted: number;
}> = [
  { test: 'json', against: 'node', wanted: 0.95 },
  { test: 'json', against: 'fastify', wanted: 1.15 },
  { test: 'plaintext', against: 'node', wanted: 0.95 },
  { test: 'plaintext', against: 'fastify', wanted: 1.15 },
  { test: 'db', against: 'node', wanted: 0.95 },
  { test: 'fortunes', against: 'node', wanted: 0.95 },
  { test: 'cached-queries', against: 'itself', againstTest: 'json', wanted: 0.8 },
];

/** The single-process Peregrine variants the targets are checked for (as shipped, then bare). */
export const TARGET_SUBJECTS: readonly string[] = ['peregrine', 'peregrine-telemetry-off'];

/** Checks Peregrine's single-process results against the targets. */
export function evaluateTargets(
  records: readonly ResultRecord[],
  subjects: readonly string[] = TARGET_SUBJECTS,
): TargetCheck[] {
  const out: TargetCheck[] = [];
  const find = (server: string, test: TestName, c: number) =>
    records.find((r) => r.server === server && r.test === test && r.concurrency === c);
  const levels = [...new Set(records.map((r) => r.concurrency))].sort((a, b) => a - b);
  for (const subject of subjects)
    for (const t of TARGETS) {
      for (const c of levels) {
        const mine = find(subject, t.test, c);
        const theirs =
          t.againstTest === undefined
            ? find(t.against, t.test, c)
            : find(subject, t.againstTest, c);
        if (mine === undefined || theirs === undefined) continue;
        const got =
          mine.status === 'ok' && theirs.status === 'ok' && mine.rps !== null && theirs.rps
            ? round(mine.rps / theirs.rps, 3)
            : null;
        const gotByCpu =
          mine.status === 'ok' &&
          theirs.status === 'ok' &&
          mine.cpuUsPerRequest &&
          theirs.cpuUsPerRequest
            ? round(theirs.cpuUsPerRequest / mine.cpuUsPerRequest, 3)
            : null;
        out.push({
          server: subject,
          test: t.test,
          concurrency: c,
          against: t.againstTest === undefined ? t.against : subject,
          ...(t.againstTest === undefined ? {} : { againstTest: t.againstTest }),
          wanted: t.wanted,
          got,
          gotByCpu,
          met: got === null ? null : got >= t.wanted,
        });
      }
    }
  return out;
}

/** Rounds to a number of decimals. */
export function round(n: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
}

function fmtInt(n: number | null): string {
  return n === null ? '—' : Math.round(n).toLocaleString('en-US');
}

function fmtMs(n: number | null): string {
  if (n === null) return '—';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** Lays out rows of cells as an aligned Markdown table (numbers right-aligned). */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Numbers (and the words standing in for a missing one) align right.
  const numeric = header.map((_, i) =>
    rows.every((r) => /^([-—\d.,×%x ]*|FAILED|SKIPPED)$/.test(r[i] ?? '')),
  );
  const cell = (s: string, i: number) =>
    numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!);
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => cell(c, i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * The printed table: one row per test, load and server, with requests/s, the ratio to raw
 * node:http from the same run, latency, errors and memory.
 */
export function formatTable(
  records: readonly ResultRecord[],
  serverOrder: readonly string[],
): string {
  const order = (s: string) => {
    const i = serverOrder.indexOf(s);
    return i === -1 ? serverOrder.length : i;
  };
  const sorted = [...records].sort(
    (a, b) =>
      TEST_NAMES.indexOf(a.test) - TEST_NAMES.indexOf(b.test) ||
      a.concurrency - b.concurrency ||
      order(a.server) - order(b.server),
  );
  const rows = sorted.map((r) => [
    r.queries === null ? r.test : `${r.test} (N=${r.queries})`,
    String(r.concurrency),
    r.server,
    r.status === 'ok' ? fmtInt(r.rps) : r.status.toUpperCase(),
    r.ratioToNode === null ? '—' : `${r.ratioToNode.toFixed(2)}x`,
    fmtMs(r.p50Ms),
    fmtMs(r.p99Ms),
    String(r.errors + r.non2xx),
    r.rssMiB === null ? '—' : r.rssMiB.toFixed(0),
    r.rssRatioToNode === null ? '—' : `${r.rssRatioToNode.toFixed(2)}x`,
    r.spread === null ? '—' : `${(r.spread * 100).toFixed(0)}%`,
    r.cpuUsPerRequest === null ? '—' : r.cpuUsPerRequest.toFixed(1),
    r.cpuRatioToNode === null ? '—' : `${r.cpuRatioToNode.toFixed(2)}x`,
    r.cpu === null ? '—' : r.cpu.server.toFixed(2),
    r.cpu === null ? '—' : r.cpu.other.toFixed(2),
  ]);
  return markdownTable(
    [
      'test',
      'conns',
      'server',
      'req/s',
      'vs node',
      'p50 ms',
      'p99 ms',
      'errors',
      'RSS MiB',
      'RSS vs node',
      'spread',
      'cpu µs/req',
      'cpu vs node',
      'server cores',
      'other cores',
    ],
    rows,
  );
}

/** The target checks as printed lines. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks
    .map((c) => {
      const verdict = c.met === null ? 'NOT MEASURED' : c.met ? 'met' : 'MISSED';
      const got = c.got === null ? '—' : `${c.got.toFixed(2)}x`;
      const byCpu = c.gotByCpu === null ? '' : `; by CPU per response ${c.gotByCpu.toFixed(2)}x`;
      const what =
        c.againstTest === undefined
          ? `${c.server} vs ${c.against} on ${c.test}`
          : `${c.server} ${c.test} vs its ${c.againstTest}`;
      return `${what} @${c.concurrency}: ${got} (target >= ${c.wanted.toFixed(2)}x) ${verdict}${byCpu}`;
    })
    .join('\n');
}
