import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MaybePromise } from '../app/middleware.ts';
import type { Request } from '../app/request.ts';

/** A stored API key: its hash (never the key) and what it grants. */
export interface ApiKeyRecord {
  /** `hashApiKey(key)`: `sha256:` and the base64url SHA-256 of the key. */
  readonly hash: string;
  /** The caller the key stands for. */
  readonly subject: string;
  /** Scopes granted to the key. */
  readonly scopes?: readonly string[];
  /** Roles granted to the key. */
  readonly roles?: readonly string[];
  /** A name for logs and `principal.keyName` (never the key itself). */
  readonly name?: string;
}

/** Options of API-key authentication. */
export interface ApiKeyOptions {
  /** The request header that carries the key (default `x-api-key`). */
  header?: string;
  /** The keys, by hash: each presented key is compared with every one, in constant time. */
  keys?: readonly ApiKeyRecord[];
  /**
   * Finds a key by its hash in your own store (a database table indexed on the hash). Looking a
   * hash up is safe from timing attacks: the hash of a guess says nothing about the real key.
   */
  lookup?: (hash: string, req: Request) => MaybePromise<ApiKeyRecord | undefined>;
}

const HASH_PREFIX = 'sha256:';

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The stored form of an API key: `sha256:` + base64url(SHA-256(key)). A fast hash is right for
 * keys from `generateApiKey()` (256 random bits: nothing to brute-force), and it keeps a lookup
 * per request cheap; do not use it for passwords people choose.
 */
export function hashApiKey(key: string): string {
  return HASH_PREFIX + digest(key).toString('base64url');
}

/** A new random API key (`prefix_` + 43 base64url characters, 256 bits) and its hash to store. */
export function generateApiKey(prefix = 'prg'): { key: string; hash: string } {
  if (!/^[A-Za-z0-9]{1,16}$/.test(prefix)) {
    throw new TypeError('generateApiKey: the prefix must be 1–16 letters or digits');
  }
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key) };
}

function decodeHash(record: ApiKeyRecord): Buffer {
  const hash = record.hash;
  const bytes = hash.startsWith(HASH_PREFIX)
    ? Buffer.from(hash.slice(HASH_PREFIX.length), 'base64url')
    : undefined;
  if (bytes === undefined || bytes.length !== 32) {
    throw new TypeError(
      `API key "${record.name ?? record.subject}": hash must be hashApiKey(key) ("sha256:…"), not the key`,
    );
  }
  return bytes;
}

/** The keys an App accepts, checked without timing leaks. */
export class ApiKeys {
  /** The header the key comes in (lower case). */
  readonly header: string;
  readonly #keys: ReadonlyArray<{ digest: Buffer; record: ApiKeyRecord }>;
  readonly #lookup: ApiKeyOptions['lookup'];

  constructor(options: ApiKeyOptions) {
    this.header = (options.header ?? 'x-api-key').toLowerCase();
    this.#keys = (options.keys ?? []).map((record) => ({ digest: decodeHash(record), record }));
    this.#lookup = options.lookup;
    if (options.keys === undefined && options.lookup === undefined) {
      throw new TypeError('apiKeys: give keys (hashed) or a lookup function');
    }
  }

  /** The record of a presented key, or undefined when no key matches. */
  async find(presented: string, req: Request): Promise<ApiKeyRecord | undefined> {
    const d = digest(presented);
    let found: ApiKeyRecord | undefined;
    // Every stored hash is compared, whatever matched before: the time does not say which did.
    for (const key of this.#keys) {
      if (timingSafeEqual(d, key.digest) && found === undefined) found = key.record;
    }
    if (found === undefined && this.#lookup !== undefined) {
      found = await this.#lookup(HASH_PREFIX + d.toString('base64url'), req);
    }
    return found;
  }
}
