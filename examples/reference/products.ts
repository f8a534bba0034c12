/**
 * The reference system's shop: the products catalog seeds into its database, and the SKUs whose
 * prices pricing computes slowly or fails to compute (the system's built-in faults, so the map
 * and the traces always have something slow and something failing to show).
 */

/** A product as catalog stores it. */
export interface Product {
  sku: string;
  name: string;
  category: string;
}

/** What catalog seeds into `reference_products` at startup (idempotent). */
export const PRODUCTS: readonly Product[] = [
  { sku: 'TENT-2P', name: 'Two-person tent', category: 'shelter' },
  { sku: 'TENT-4P', name: 'Four-person tent', category: 'shelter' },
  { sku: 'TARP-3X3', name: 'Tarp 3 × 3 m', category: 'shelter' },
  { sku: 'BAG-0C', name: 'Sleeping bag 0 °C', category: 'sleep' },
  { sku: 'MAT-AIR', name: 'Air mattress', category: 'sleep' },
  { sku: 'STOVE-GAS', name: 'Gas stove', category: 'kitchen' },
  { sku: 'POT-1L', name: 'Titanium pot 1 L', category: 'kitchen' },
  { sku: 'LAMP-400', name: 'Head lamp 400 lm', category: 'light' },
  { sku: 'PACK-45', name: 'Backpack 45 L', category: 'packs' },
  { sku: 'PACK-70', name: 'Backpack 70 L', category: 'packs' },
  { sku: 'KAYAK-SEA', name: 'Sea kayak', category: 'water' },
  { sku: 'CANOE-16', name: 'Canoe 16 ft', category: 'water' },
  { sku: 'LANTERN-OLD', name: 'Paraffin lantern', category: 'light' },
  { sku: 'ROPE-60M', name: 'Climbing rope 60 m', category: 'climbing' },
];

/**
 * Priced quickly (a few ms end to end). The other lists are disjoint from this one; together
 * they are every SKU of PRODUCTS.
 */
export const FAST_SKUS: readonly string[] = [
  'TENT-2P',
  'TENT-4P',
  'TARP-3X3',
  'BAG-0C',
  'MAT-AIR',
  'STOVE-GAS',
  'POT-1L',
  'LAMP-400',
  'PACK-45',
  'PACK-70',
];

/** Pricing takes 250–350 ms for these (its volume-tier quote), so `GET /products/{sku}` is slow. */
export const SLOW_SKUS: readonly string[] = ['KAYAK-SEA', 'CANOE-16'];

/**
 * Pricing fails (500) for these: their price rule names a currency it has no rate for. Catalog
 * answers 502 and so does the gateway, and the trace's failing span is pricing's. Do not send
 * more than four in a row: after five failures in a row catalog's client opens its breaker to
 * pricing and refuses calls for a second (503, and no call reaches pricing).
 */
export const FAILING_SKUS: readonly string[] = ['LANTERN-OLD', 'ROPE-60M'];

/** A well-formed SKU no product has: catalog answers 404 (after a database lookup). */
export const UNKNOWN_SKU = 'NOPE-0';

/** What a SKU must look like (validated by the gateway and catalog: 400 otherwise). */
export const SKU_PATTERN = /^[A-Z0-9][A-Z0-9-]{0,39}$/;
