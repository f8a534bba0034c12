/**
 * A cache key. A number and its decimal string (`42` and `'42'`) are the same key in Redis, and
 * `set`, `delete` and invalidations drop both from the local tier; lookups use the key as given,
 * so use one form per cache (numbers for numeric ids: no conversion, and the cheapest lookups).
 */
export type CacheKey = string | number;

/** The other form of a key: 42 ↔ '42'; undefined for a string that is no number's decimal form. */
function twin(key: CacheKey): CacheKey | undefined {
  if (typeof key === 'number') return String(key);
  const n = Number(key);
  return String(n) === key ? n : undefined;
}

/**
 * Which key forms one cache has held (locally or in flight), and so which twins can exist.
 * PERF: a key's twin is looked for only when the other form was ever held; a cache used with one
 * form (the usual case) skips the String()/Number() conversion and two Map lookups per set and
 * invalidation.
 */
export class KeyForms {
  #numbers = false;
  #strings = false;

  /** Notes the form of a key about to be held locally or in flight. */
  held(key: CacheKey): void {
    if (typeof key === 'number') this.#numbers = true;
    else this.#strings = true;
  }

  /** The other form of `key`, if a key of that form was ever held. */
  twin(key: CacheKey): CacheKey | undefined {
    return (typeof key === 'number' ? this.#strings : this.#numbers) ? twin(key) : undefined;
  }
}
