/**
 * `npm run bench:cache`: the cache's local tier against lru-cache 11, side by side in one process,
 * on what TechEmpower's cached-queries does: 20 hits on random ids per request, over 10 000
 * cached entries. Prints ns per request (20 lookups) for
 *
 * - Peregrine's `Cache` (`peek`), number keys and string keys (`String(id)` per lookup, as a
 *   handler with a numeric id must do),
 * - its `LocalStore` directly (`freshValue`, number keys),
 * - lru-cache `get` with number keys holding the value itself (as the bench's peers use it),
 * - lru-cache `get` with string keys holding `{ value, fresh, stale }` plus the freshness check
 *   (what `Cache` did before it had its own LRU),
 *
 * and a churn case: a cache of 1 000 entries over 10 000 ids, get and on a miss set (~90% misses,
 * each evicting the least recently used entry). Ids come from a pre-generated array of 2^20
 * random ids; the clock is read once per measurement in every case (as `Cache` does within one
 * synchronous run). Medians of 5 rounds; ratios against Peregrine's number-key `Cache`.
 *
 * On the shared development machine:
 * `flock /tmp/peregrine-load.lock taskset -c 1 node --conditions=peregrine-source bench/cache-local.ts`
 */
import { LRUCache } from 'lru-cache';
import { Cache } from '../src/cache/cache.ts';
import { LocalStore } from '../src/cache/local-store.ts';

interface World {
  id: number;
  randomNumber: number;
}
interface Wrapped {
  value: World;
  fresh: number;
  stale: number;
}

const ENTRIES = 10_000;
const CHURN_MAX = 1_000;
const PER_REQUEST = 20;
const IDS = 1 << 20;
const MASK = IDS - 1;
const ids = new Int32Array(IDS);
for (let i = 0; i < IDS; i++) ids[i] = 1 + Math.floor(Math.random() * ENTRIES);
const world = (id: number): World => ({ id, randomNumber: 1 + Math.floor(Math.random() * 10_000) });
const TTL = 3_600_000;

// Hits: every id cached and fresh.
const cacheNum = new Cache<World, number>({ name: 'bench-num', max: ENTRIES, ttl: TTL });
const cacheStr = new Cache<World, string>({ name: 'bench-str', max: ENTRIES, ttl: TTL });
const store = new LocalStore<number, World>(ENTRIES);
const lruNum = new LRUCache<number, World>({ max: ENTRIES });
const lruWrapped = new LRUCache<string, Wrapped>({ max: ENTRIES });
for (let id = 1; id <= ENTRIES; id++) {
  const w = world(id);
  void cacheNum.set(id, w);
  void cacheStr.set(String(id), w);
  store.set(id, w, Date.now() + TTL, Date.now() + TTL);
  lruNum.set(id, w);
  lruWrapped.set(String(id), { value: w, fresh: Date.now() + TTL, stale: Date.now() + TTL });
}

// Churn: 1 000 entries, ids over 10 000.
const churnCache = new Cache<World, number>({ name: 'bench-churn', max: CHURN_MAX, ttl: TTL });
const churnStore = new LocalStore<number, World>(CHURN_MAX);
const churnLruNum = new LRUCache<number, World>({ max: CHURN_MAX });
const churnLruWrapped = new LRUCache<string, Wrapped>({ max: CHURN_MAX });
const rows = Array.from({ length: ENTRIES + 1 }, (_, id) => world(id));
let misses = 0;

/** A case runs `n` requests of 20 lookups from position `p` of `ids`; returns a checksum. */
type Case = (p: number, n: number, now: number) => number;

const hits: Record<string, Case> = {
  'Cache.peek, number keys': (p, n) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) sum += cacheNum.peek(ids[p++ & MASK]!)!.randomNumber;
    return sum;
  },
  'Cache.peek, string keys': (p, n) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++)
        sum += cacheStr.peek(String(ids[p++ & MASK]!))!.randomNumber;
    return sum;
  },
  'LocalStore.freshValue, number': (p, n, now) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++)
        sum += store.freshValue(ids[p++ & MASK]!, now)!.randomNumber;
    return sum;
  },
  'lru-cache, number keys': (p, n) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) sum += lruNum.get(ids[p++ & MASK]!)!.randomNumber;
    return sum;
  },
  'lru-cache, string + wrapper': (p, n, now) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) {
        const e = lruWrapped.get(String(ids[p++ & MASK]!));
        sum += e !== undefined && now < e.fresh ? e.value.randomNumber : 0;
      }
    return sum;
  },
};

const churn: Record<string, Case> = {
  'Cache.peek + set, number': (p, n) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) {
        const id = ids[p++ & MASK]!;
        let w = churnCache.peek(id);
        if (w === undefined) {
          misses++;
          w = rows[id]!;
          void churnCache.set(id, w);
        }
        sum += w.randomNumber;
      }
    return sum;
  },
  'LocalStore get + set, number': (p, n, now) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) {
        const id = ids[p++ & MASK]!;
        let w = churnStore.freshValue(id, now);
        if (w === undefined) {
          misses++;
          w = rows[id]!;
          churnStore.set(id, w, now + TTL, now + TTL);
        }
        sum += w.randomNumber;
      }
    return sum;
  },
  'lru-cache get + set, number': (p, n) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) {
        const id = ids[p++ & MASK]!;
        let w = churnLruNum.get(id);
        if (w === undefined) {
          misses++;
          w = rows[id]!;
          churnLruNum.set(id, w);
        }
        sum += w.randomNumber;
      }
    return sum;
  },
  'lru-cache get + set, str+wrap': (p, n, now) => {
    let sum = 0;
    for (let r = 0; r < n; r++)
      for (let i = 0; i < PER_REQUEST; i++) {
        const id = ids[p++ & MASK]!;
        const key = String(id);
        const e = churnLruWrapped.get(key);
        let w: World;
        if (e !== undefined && now < e.fresh) w = e.value;
        else {
          misses++;
          w = rows[id]!;
          churnLruWrapped.set(key, { value: w, fresh: now + TTL, stale: now + TTL });
        }
        sum += w.randomNumber;
      }
    return sum;
  },
};

let position = 0;
let checksum = 0;
let lookups = 0;
/** ns per request of `fn`, run for about `ms`. */
function measure(fn: Case, ms: number): number {
  const now = Date.now();
  const chunk = 256;
  let requests = 0;
  const t0 = performance.now();
  const until = t0 + ms;
  let t = t0;
  while (t < until) {
    checksum += fn(position, chunk, now);
    position = (position + chunk * PER_REQUEST) & MASK;
    requests += chunk;
    t = performance.now();
  }
  lookups += requests * PER_REQUEST;
  return ((t - t0) * 1e6) / requests;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
function run(cases: Record<string, Case>): Record<string, number> {
  const results: Record<string, number[]> = {};
  for (const [name, fn] of Object.entries(cases)) {
    measure(fn, 200);
    results[name] = [];
  }
  for (let round = 0; round < 5; round++)
    for (const [name, fn] of Object.entries(cases)) results[name]!.push(measure(fn, 250));
  return Object.fromEntries(Object.entries(results).map(([name, xs]) => [name, median(xs)]));
}

function print(title: string, medians: Record<string, number>, base: string): void {
  console.log(title);
  for (const [name, ns] of Object.entries(medians)) {
    const ratio = name === base ? '' : `  ${(ns / medians[base]!).toFixed(2)}x`;
    console.log(`  ${name.padEnd(31)} ${ns.toFixed(0).padStart(6)} ns/request${ratio}`);
  }
}

const hitMedians = run(hits);
print(
  `hits: ${PER_REQUEST} random ids per request over ${ENTRIES} entries (ratio: time vs Cache.peek, number keys)`,
  hitMedians,
  'Cache.peek, number keys',
);
misses = 0;
lookups = 0;
const churnMedians = run(churn);
print(
  `churn: max ${CHURN_MAX}, ${ENTRIES} ids, get and set on a miss (ratio: time vs Cache.peek + set)`,
  churnMedians,
  'Cache.peek + set, number',
);
console.log(
  `  (ids above ${CHURN_MAX * 8} are past the integer index's reach (8 × max) and use the Map)`,
);
console.log(
  `  misses: ${((misses / lookups) * 100).toFixed(1)}% of lookups (checksum ${checksum % 1000})`,
);
