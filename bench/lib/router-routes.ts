/**
 * The routing table of the router micro-benchmark: 1,000 routes of a realistic API (30% static,
 * 70% with path parameters, one to three levels), written for both routers, and the paths looked
 * up, each with the route and parameters it must match.
 */

/** One route in both syntaxes. */
export interface BenchRoute {
  /** Peregrine URI template (`{id}`). */
  template: string;
  /** find-my-way pattern (`:id`). */
  pattern: string;
  /** Whether it has parameters. */
  dynamic: boolean;
}

/** A path to look up and what it must find. */
export interface BenchLookup {
  path: string;
  /** Index of the route it matches, or -1 for none. */
  route: number;
  params: Record<string, string>;
  kind: 'static' | 'dynamic' | 'miss';
}

const NOUNS = [
  'users',
  'orders',
  'products',
  'invoices',
  'payments',
  'shipments',
  'carts',
  'reviews',
  'categories',
  'coupons',
  'accounts',
  'projects',
  'tickets',
  'messages',
  'teams',
  'files',
  'events',
  'reports',
  'devices',
  'alerts',
  'webhooks',
  'subscriptions',
  'plans',
  'regions',
  'sessions',
];
const SUBS = ['comments', 'tags', 'members', 'notes', 'attachments', 'logs', 'versions'];
const STATIC_TAILS = ['search', 'stats'];

/** A small deterministic PRNG (mulberry32), so every run looks up the same paths. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 1,000 routes: 4 API versions × 25 resources × 10 routes each. */
export function benchRoutes(): BenchRoute[] {
  const routes: BenchRoute[] = [];
  const add = (parts: string[]) => {
    const template = `/${parts.join('/')}`;
    routes.push({
      template,
      pattern: template.replace(/\{(\w+)\}/g, ':$1'),
      dynamic: template.includes('{'),
    });
  };
  for (let v = 1; v <= 4; v++) {
    for (let n = 0; n < NOUNS.length; n++) {
      const base = ['api', `v${v}`, NOUNS[n]!];
      const sub1 = SUBS[(n + v) % SUBS.length]!;
      const sub2 = SUBS[(n + v + 3) % SUBS.length]!;
      add(base);
      for (const tail of STATIC_TAILS) add([...base, tail]);
      add([...base, '{id}']);
      add([...base, '{id}', 'history']);
      add([...base, '{id}', sub1]);
      add([...base, '{id}', sub1, '{subId}']);
      add([...base, '{id}', sub2]);
      add([...base, '{id}', sub2, '{subId}']);
      add([...base, '{id}', 'actions', '{action}']);
    }
  }
  return routes;
}

/** `count` lookups spread over the routes (plus `missShare` of paths that match nothing). */
export function benchLookups(
  routes: readonly BenchRoute[],
  count: number,
  seed = 42,
  missShare = 0,
): BenchLookup[] {
  const rand = prng(seed);
  const out: BenchLookup[] = [];
  const value = (name: string) => {
    const r = rand();
    if (name === 'action') return ['approve', 'archive', 'restore', 'close'][Math.floor(r * 4)]!;
    // Ids look like what services use: integers or UUID-like strings.
    return r < 0.5
      ? String(Math.floor(r * 1e7))
      : `a1b2c3d4-${Math.floor(r * 1e8).toString(16)}-4e5f`;
  };
  for (let i = 0; i < count; i++) {
    if (missShare > 0 && rand() < missShare) {
      out.push({
        path: `/api/v${1 + Math.floor(rand() * 4)}/nothing/${i}`,
        route: -1,
        params: {},
        kind: 'miss',
      });
      continue;
    }
    const index = Math.floor(rand() * routes.length);
    const route = routes[index]!;
    const params: Record<string, string> = {};
    const path = route.template.replace(/\{(\w+)\}/g, (_, name: string) => {
      params[name] = value(name);
      return params[name]!;
    });
    out.push({ path, route: index, params, kind: route.dynamic ? 'dynamic' : 'static' });
  }
  return out;
}
