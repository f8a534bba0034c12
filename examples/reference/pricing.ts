/**
 * pricing: the price of a SKU. Reached only through catalog's outbound client. No database: its
 * price rules are configuration, loaded with the code. Two kinds of SKU misbehave on purpose (see
 * products.ts): volume-tier quotes are slow, and two rules name a currency pricing has no rate
 * for, which fails the request (500) the way a bad rule deployed to production would.
 *
 * `npx peregrine serve examples/reference/pricing.ts`
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { App, HTTPBadRequest, HTTPNotFound } from 'peregrine';
import { FAILING_SKUS, PRODUCTS, SKU_PATTERN, SLOW_SKUS } from './products.ts';

interface Rule {
  /** The list price, in cents of `currency`. */
  cents: number;
  currency: string;
  /** Volume tiers are quoted by a slower engine. */
  tiers: boolean;
}

/** Rates into EUR. */
const RATES: Record<string, number> = { EUR: 1, USD: 0.92, GBP: 1.17 };

// A deterministic list price per SKU, so every run quotes the same numbers.
const RULES = new Map<string, Rule>(
  PRODUCTS.map((p, i) => [
    p.sku,
    {
      cents: 1_990 + ((i * 7_919) % 40_000),
      currency: FAILING_SKUS.includes(p.sku) ? 'XEU' : i % 3 === 0 ? 'USD' : 'EUR',
      tiers: SLOW_SKUS.includes(p.sku),
    },
  ]),
);

const app = new App();

app.addRoute('/prices/{sku}', {
  async onGet(req, resp, params) {
    const sku = String(params.sku);
    if (!SKU_PATTERN.test(sku)) throw new HTTPBadRequest({ detail: 'Not a SKU.' });
    const rule = RULES.get(sku);
    if (rule === undefined) throw new HTTPNotFound({ detail: `No price rule for ${sku}.` });
    if (rule.tiers) await sleep(250 + Math.random() * 100, undefined, { signal: req.signal });
    const rate = RATES[rule.currency];
    // An unhandled error: the App answers 500 problem+json, logs it, and the span is an error.
    if (rate === undefined) throw new Error(`price rule of ${sku} uses ${rule.currency}: no rate`);
    resp.media = {
      sku,
      currency: 'EUR',
      amount: Math.round(rule.cents * rate) / 100,
      tiers: rule.tiers
        ? [1, 5, 20].map((n) => ({ from: n, discount: n === 1 ? 0 : n / 100 }))
        : [],
    };
  },
});

export default app;
