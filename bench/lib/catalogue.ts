/** The TechEmpower test types the suite runs, and how each is requested. */

/** Test names, in the order they run and print. */
export const TEST_NAMES = [
  'json',
  'plaintext',
  'pipelined',
  'db',
  'queries',
  'fortunes',
  'updates',
  'cached-queries',
] as const;

/** One test type. */
export type TestName = (typeof TEST_NAMES)[number];

// The Accept headers TechEmpower's load generator sends, so content negotiation costs what it
// would in the published benchmark.
const ACCEPT_JSON =
  'application/json,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7';
const ACCEPT_TEXT =
  'text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7';
const ACCEPT_HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** How a test is requested. */
export interface TestSpec {
  readonly name: TestName;
  /** What the test measures, for the docs and `--list`. */
  readonly description: string;
  /** The request target for a given query count. */
  path(queries: number): string;
  /** The Accept header sent. */
  readonly accept: string;
  /** HTTP/1.1 pipelining depth (1: none). */
  readonly pipeline: number;
  /** Whether the test needs the database. */
  readonly needsDatabase: boolean;
  /** Whether the query count applies. */
  readonly usesQueries: boolean;
}

/** Every test type by name. */
export const TESTS: Readonly<Record<TestName, TestSpec>> = {
  json: {
    name: 'json',
    description: 'a new {"message":"Hello, World!"} object serialised per request',
    path: () => '/json',
    accept: ACCEPT_JSON,
    pipeline: 1,
    needsDatabase: false,
    usesQueries: false,
  },
  plaintext: {
    name: 'plaintext',
    description: '"Hello, World!" as text/plain, one request at a time per connection',
    path: () => '/plaintext',
    accept: ACCEPT_TEXT,
    pipeline: 1,
    needsDatabase: false,
    usesQueries: false,
  },
  pipelined: {
    name: 'pipelined',
    description: 'plaintext with HTTP/1.1 pipelining, 16 requests in flight per connection',
    path: () => '/plaintext',
    accept: ACCEPT_TEXT,
    pipeline: 16,
    needsDatabase: false,
    usesQueries: false,
  },
  db: {
    name: 'db',
    description: 'one random World row by id',
    path: () => '/db',
    accept: ACCEPT_JSON,
    pipeline: 1,
    needsDatabase: true,
    usesQueries: false,
  },
  queries: {
    name: 'queries',
    description: 'N random World rows, one query each',
    path: (n) => `/queries?queries=${n}`,
    accept: ACCEPT_JSON,
    pipeline: 1,
    needsDatabase: true,
    usesQueries: true,
  },
  fortunes: {
    name: 'fortunes',
    description: 'all Fortune rows plus one added at request time, sorted, HTML-escaped template',
    path: () => '/fortunes',
    accept: ACCEPT_HTML,
    pipeline: 1,
    needsDatabase: true,
    usesQueries: false,
  },
  updates: {
    name: 'updates',
    description: 'N World rows read one by one, given new random numbers, written back',
    path: (n) => `/updates?queries=${n}`,
    accept: ACCEPT_JSON,
    pipeline: 1,
    needsDatabase: true,
    usesQueries: true,
  },
  'cached-queries': {
    name: 'cached-queries',
    description: 'N random CachedWorld rows through a read-through in-memory cache (lru-cache)',
    path: (n) => `/cached-queries?count=${n}`,
    accept: ACCEPT_JSON,
    pipeline: 1,
    needsDatabase: true,
    usesQueries: true,
  },
};

/** Whether a string names a test. */
export function isTestName(name: string): name is TestName {
  return (TEST_NAMES as readonly string[]).includes(name);
}
