/**
 * The in-process tier of a `Cache`: a map from keys to values, bounded by count with
 * least-recently-used eviction, where each value carries its fresh-until and stale-until times.
 *
 * PERF: an entry is a slot number. Its key, value, times and list links live in parallel arrays
 * (typed arrays for the numbers), so a hit reads the Map, one float and one array element: no
 * per-entry object to chase, which under load (caches and TLB cold, ~100+ ns per random memory
 * access) cost as much as the lookup itself. lru-cache holding `{ value, fresh, stale }` wrappers
 * did the same work with two more dependent reads per hit (the wrapper, and for string keys the
 * stored key's characters).
 *
 * PERF: small non-negative integer keys (database ids, the common case) are indexed by a plain
 * Int32Array (key → slot + 1) instead of the Map: one read in a compact array instead of a hash
 * bucket and a hash entry, ~2x cheaper per hit under load. It grows with the largest such key
 * up to `max * DENSE_PER_ENTRY` keys (≤ 32 bytes per entry of `max`); larger, negative or
 * fractional numbers and strings go to the Map.
 */

const NONE = 0xffff_ffff;
/** How far the integer index may reach, in keys per entry of `max`. */
const DENSE_PER_ENTRY = 8;

export class LocalStore<K, V> {
  /** The most entries kept. */
  readonly max: number;
  readonly #index = new Map<K, number>();
  /** Slot + 1 of each integer key below #denseLimit (0: absent); grown on demand. */
  #dense = new Int32Array(0);
  readonly #denseLimit: number;
  #size = 0;
  #keys: Array<K | undefined>;
  #values: Array<V | undefined>;
  #fresh: Float64Array;
  #stale: Float64Array;
  /** Towards the most recently used end. */
  #next: Uint32Array;
  /** Towards the least recently used end. */
  #prev: Uint32Array;
  /** Least recently used slot (NONE when empty). */
  #head = NONE;
  /** Most recently used slot (NONE when empty). */
  #tail = NONE;
  /** Slots in use or freed so far; slots below it that are not in the index are in #free. */
  #used = 0;
  readonly #free: number[] = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1 || max >= NONE) {
      throw new RangeError(`max must be an integer from 1 to ${NONE - 1}, got ${max}`);
    }
    this.max = max;
    this.#denseLimit = Math.min(max * DENSE_PER_ENTRY, 0x7fff_ffff);
    // Grown by doubling up to max: a small cache with a large bound costs little memory.
    const capacity = Math.min(max, 64);
    this.#keys = new Array<K | undefined>(capacity);
    this.#values = new Array<V | undefined>(capacity);
    this.#fresh = new Float64Array(capacity);
    this.#stale = new Float64Array(capacity);
    this.#next = new Uint32Array(capacity);
    this.#prev = new Uint32Array(capacity);
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** Whether a key lives in the integer index (a non-negative integer below the limit). */
  #isDense(key: K): boolean {
    return typeof key === 'number' && key >>> 0 === key && key < this.#denseLimit;
  }

  /** The slot of `key`, or -1. Slots are valid until the next `set`, `delete` or `clear`. */
  find(key: K): number {
    if (this.#isDense(key)) {
      const k = key as number;
      return k < this.#dense.length ? this.#dense[k]! - 1 : -1;
    }
    return this.#index.get(key) ?? -1;
  }

  /** The value of a slot if it is fresh at `now` (and marks it used), else undefined. */
  freshValue(key: K, now: number): V | undefined {
    const slot = this.find(key);
    if (slot === -1 || !(now < this.#fresh[slot]!)) return undefined;
    if (slot !== this.#tail) this.#moveToTail(slot);
    return this.#values[slot];
  }

  /** Fresh-until time of a slot (ms since epoch). */
  freshUntil(slot: number): number {
    return this.#fresh[slot]!;
  }

  /** Stale-until time of a slot (ms since epoch). */
  staleUntil(slot: number): number {
    return this.#stale[slot]!;
  }

  /** The value of a slot, marking it the most recently used; undefined for a cached absence. */
  use(slot: number): V | undefined {
    if (slot !== this.#tail) this.#moveToTail(slot);
    return this.#values[slot];
  }

  /** Stores a value (undefined: a cached absence) with its times, evicting the LRU entry if full. */
  set(key: K, value: V | undefined, fresh: number, stale: number): void {
    let slot = this.find(key);
    if (slot === -1) {
      slot = this.#allocate();
      this.#indexSet(key, slot);
      this.#keys[slot] = key;
      this.#link(slot);
      this.#size++;
    } else if (slot !== this.#tail) {
      this.#moveToTail(slot);
    }
    this.#values[slot] = value;
    this.#fresh[slot] = fresh;
    this.#stale[slot] = stale;
  }

  /** Removes a key; true if it was there. */
  delete(key: K): boolean {
    const slot = this.find(key);
    if (slot === -1) return false;
    this.#indexDelete(key);
    this.#unlink(slot);
    this.#release(slot);
    this.#size--;
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.#index.clear();
    this.#dense.fill(0);
    this.#size = 0;
    this.#keys.fill(undefined);
    this.#values.fill(undefined);
    this.#head = NONE;
    this.#tail = NONE;
    this.#used = 0;
    this.#free.length = 0;
  }

  /** Keys from the least to the most recently used (for tests and debugging). */
  *keys(): Generator<K> {
    for (let s = this.#head; s !== NONE; s = this.#next[s]!) yield this.#keys[s] as K;
  }

  #allocate(): number {
    if (this.#free.length > 0) return this.#free.pop()!;
    if (this.#used < this.max) {
      if (this.#used === this.#fresh.length) this.#grow();
      return this.#used++;
    }
    // Full: the least recently used entry gives up its slot.
    const slot = this.#head;
    this.#indexDelete(this.#keys[slot] as K);
    this.#unlink(slot);
    this.#size--;
    return slot;
  }

  #indexSet(key: K, slot: number): void {
    if (!this.#isDense(key)) {
      this.#index.set(key, slot);
      return;
    }
    const k = key as number;
    if (k >= this.#dense.length) {
      let length = Math.max(64, this.#dense.length);
      while (length <= k) length *= 2;
      const grown = new Int32Array(Math.min(length, this.#denseLimit));
      grown.set(this.#dense);
      this.#dense = grown;
    }
    this.#dense[k] = slot + 1;
  }

  #indexDelete(key: K): void {
    if (this.#isDense(key)) this.#dense[key as number] = 0;
    else this.#index.delete(key);
  }

  #release(slot: number): void {
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    this.#free.push(slot);
  }

  #grow(): void {
    const capacity = Math.min(this.max, this.#fresh.length * 2);
    this.#keys.length = capacity;
    this.#values.length = capacity;
    const grow = <T extends Float64Array | Uint32Array>(old: T, made: T): T => {
      made.set(old);
      return made;
    };
    this.#fresh = grow(this.#fresh, new Float64Array(capacity));
    this.#stale = grow(this.#stale, new Float64Array(capacity));
    this.#next = grow(this.#next, new Uint32Array(capacity));
    this.#prev = grow(this.#prev, new Uint32Array(capacity));
  }

  /** Appends a slot at the most recently used end. */
  #link(slot: number): void {
    this.#next[slot] = NONE;
    this.#prev[slot] = this.#tail;
    if (this.#tail === NONE) this.#head = slot;
    else this.#next[this.#tail] = slot;
    this.#tail = slot;
  }

  #unlink(slot: number): void {
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev === NONE) this.#head = next;
    else this.#next[prev] = next;
    if (next === NONE) this.#tail = prev;
    else this.#prev[next] = prev;
  }

  #moveToTail(slot: number): void {
    this.#unlink(slot);
    this.#link(slot);
  }
}
