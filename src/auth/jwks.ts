import { isIP } from 'node:net';
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, LocalJWKSet } from 'jose';
import type { Logger } from '../app/logger.ts';
import type { HttpClient } from '../client/client.ts';
import { AuthUnavailableError } from './errors.ts';
import { loadJose } from './jose.ts';

/** Where and how to fetch a JSON Web Key Set. Times are in milliseconds. */
export interface JwksOptions {
  /** The JWKS URL (`https://idp.example/.well-known/jwks.json`). */
  url: string;
  /**
   * The outbound client to fetch it with. Default: a `peregrine/client` HttpClient for the URL's
   * origin, with `timeout`, one retry and its own breaker.
   */
  client?: HttpClient;
  /** Longest a fetch may take (default 2000): past it, a token that needs it gets a 503. */
  timeout?: number;
  /** Keys older than this are refreshed in the background; the old ones serve meanwhile (default 600 000). */
  cacheMaxAge?: number;
  /**
   * Least time between two refreshes caused by a token whose `kid` is unknown (default 30 000):
   * a flood of forged `kid`s costs the identity provider one request per cooldown, not one each.
   */
  cooldown?: number;
  /** Allow `http:` to a host that is not loopback (default false: keys come over TLS). */
  insecure?: boolean;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * A remote JWKS kept in memory: fetched on first use, refreshed in the background when older than
 * `cacheMaxAge`, and at most once per `cooldown` when a token names a `kid` it does not have (a
 * key rotation). One fetch at a time, whatever the number of requests waiting on it. A failed
 * refresh keeps the keys it had; with no keys at all a token gets a 503, never a hang.
 */
export class RemoteKeySet {
  /** The JWKS URL. */
  readonly url: URL;
  readonly #path: string;
  readonly #timeout: number;
  readonly #maxAge: number;
  readonly #cooldown: number;
  readonly #ownClient: boolean;
  #client: HttpClient | Promise<HttpClient>;
  #set: LocalJWKSet | undefined;
  #fetchedAt = 0;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #lastFailure: unknown;
  #inflight: Promise<void> | undefined;
  /** Fetches started (for tests and diagnostics). */
  fetches = 0;
  /** Where failed and recovered fetches are told (`Authenticator.install` sets the App's). */
  logger: Logger | undefined;

  constructor(options: JwksOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TypeError(`jwks: ${options.url} is not an http(s) URL`);
    }
    if (url.protocol === 'http:' && options.insecure !== true && !isLoopback(url.hostname)) {
      throw new TypeError(
        `jwks: ${options.url} is plain http: keys fetched without TLS can be swapped in transit (insecure: true allows it)`,
      );
    }
    this.url = url;
    this.#path = url.pathname + url.search;
    this.#timeout = options.timeout ?? 2000;
    this.#maxAge = options.cacheMaxAge ?? 600_000;
    this.#cooldown = options.cooldown ?? 30_000;
    this.#ownClient = options.client === undefined;
    this.#client =
      options.client ??
      import('../client/client.ts').then(
        ({ HttpClient }) =>
          new HttpClient({
            origin: url.origin,
            name: `jwks ${url.host}`,
            timeout: this.#timeout,
            connectTimeout: Math.min(1000, this.#timeout),
            retries: 1,
            connections: 2,
            breaker: { failureThreshold: 3, cooldown: 5000 },
          }),
      );
  }

  /** The key for a token's header: a jose key resolver. */
  readonly resolve = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<Awaited<ReturnType<LocalJWKSet>>> => {
    if (this.#set === undefined) await this.refresh();
    else if (
      Date.now() - this.#fetchedAt > this.#maxAge &&
      Date.now() - this.#lastAttempt > this.#cooldown
    ) {
      // Stale: refresh in the background (once per cooldown while it fails); the keys we have
      // serve meanwhile.
      this.refresh().catch(() => {});
    }
    try {
      return await this.#set!(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      if (this.#inflight !== undefined) {
        // A refresh is under way (another token's rotation, or the background one): use it.
        await this.#inflight;
        return this.#set!(header, token);
      }
      const since = Date.now() - this.#lastAttempt;
      if (since < this.#cooldown) {
        // Refreshed lately: the kid is unknown to the provider — unless that refresh failed.
        if (this.#lastFailure !== undefined) throw this.#unavailable(this.#cooldown - since);
        throw err;
      }
      await this.refresh();
      return this.#set!(header, token);
    }
  };

  /** Fetches the keys now (one fetch shared by every caller); rejects with a 503 error. */
  refresh(): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    this.#lastAttempt = Date.now();
    this.fetches++;
    try {
      const client = await this.#client;
      const res = await client.get(this.#path, {
        timeout: this.#timeout,
        headers: { accept: 'application/jwk-set+json, application/json' },
      });
      if (res.status !== 200) throw new Error(`the JWKS endpoint answered ${res.status}`);
      const jwks = res.json<JSONWebKeySet>();
      if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
        throw new Error('the JWKS endpoint answered something other than a JWK Set');
      }
      this.#set = (await loadJose()).createLocalJWKSet(jwks);
      this.#fetchedAt = Date.now();
      if (this.#lastFailure !== undefined) {
        this.logger?.info({ jwks: this.url.href, keys: jwks.keys.length }, 'JWKS fetched again');
      }
      this.#lastFailure = undefined;
    } catch (err) {
      // Logged once per outage: the first failure, then nothing until a fetch works.
      if (this.#lastFailure === undefined) {
        this.logger?.warn(
          { jwks: this.url.href, err, cachedKeys: this.#set !== undefined },
          'JWKS fetch failed; tokens that need new keys get 503 until it works',
        );
      }
      this.#lastFailure = err;
      throw this.#unavailable(1000, err);
    }
  }

  #unavailable(retryAfterMs: number, cause: unknown = this.#lastFailure): AuthUnavailableError {
    return new AuthUnavailableError(
      `The keys to verify the token could not be fetched from ${this.url.host}.`,
      Math.max(1, Math.ceil(retryAfterMs / 1000)),
      cause,
    );
  }

  /** Closes the client it made (a client given in the options is left to its owner). */
  async close(): Promise<void> {
    if (this.#ownClient) await (await this.#client).close();
  }
}
