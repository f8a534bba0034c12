import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey, LocalJWKSet } from 'jose';
import { HTTPError } from '../app/errors/http-error.ts';
import { loadJose } from './jose.ts';
import { type JwksOptions, RemoteKeySet } from './jwks.ts';
import type { Principal } from './principal.ts';

/** The signature algorithms a verifier may be pinned to (`none` is not one of them). */
export type JwtAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519'
  | 'HS256'
  | 'HS384'
  | 'HS512';

const ASYMMETRIC = new Set<string>([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);
const HMAC = new Set<string>(['HS256', 'HS384', 'HS512']);

/** Options of bearer-JWT verification. Exactly one key source: `jwks`, `keys` or `key`. */
export interface JwtOptions {
  /**
   * The algorithms accepted — required, so a token cannot choose its own (`none` and a mix of
   * HMAC with public-key algorithms are refused when the verifier is built).
   */
  algorithms: readonly JwtAlgorithm[];
  /** The expected `iss` (one or several). */
  issuer: string | readonly string[];
  /** The expected `aud`: this service's identifier (one or several). */
  audience: string | readonly string[];
  /** A remote JWKS (its URL, or options): fetched through `peregrine/client`, cached. */
  jwks?: string | JwksOptions;
  /** A local JWK Set (public keys). */
  keys?: JSONWebKeySet;
  /**
   * One key: a public key (a `KeyObject` or a PEM string) for RS/PS/ES/EdDSA, or a secret of at
   * least 32 bytes (a `KeyObject` or bytes — never a string) for HS256/384/512.
   */
  key?: KeyObject | string | Uint8Array;
  /** Seconds of clock difference tolerated on `exp`, `nbf` and `iat` (default 30). */
  clockSkew?: number;
  /** Refuse tokens issued (`iat`) longer ago than this many seconds. */
  maxTokenAge?: number;
  /**
   * Verified tokens remembered per worker so a client's next calls with the same token skip the
   * signature check: at most `max` tokens (default 5000), each for at most `ttl` ms (default
   * 60 000) and never past its own `exp`. A key removed from the JWKS stops verifying new
   * tokens at once and cached ones within `ttl`. `false` verifies every time.
   */
  cache?: { max?: number; ttl?: number } | false;
  /** The expected `typ` header (`at+jwt` for RFC 9068 access tokens); unchecked by default. */
  type?: string;
  /** Claims a token must have besides `exp` and the subject (default none). */
  requiredClaims?: readonly string[];
  /** The claim naming the caller (default `sub`). */
  subjectClaim?: string;
  /**
   * The claim with the scopes (default: `scope`, a space-separated string, then `scp`, a string
   * or an array). A dotted path reaches into objects.
   */
  scopeClaim?: string;
  /** The claim with the roles (default `roles`; a dotted path such as `realm_access.roles`). */
  rolesClaim?: string;
}

/**
 * Tokens that verified, with when each stops counting: a Map kept in least-recently-used order
 * (a hit moves its entry to the end; the first entry goes when full).
 */
class VerifiedTokens {
  readonly #entries = new Map<string, { principal: Promise<Principal>; until: number }>();
  readonly #max: number;
  readonly ttl: number;

  constructor(max: number, ttl: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new TypeError('jwt: cache.max must be ≥ 1');
    if (!Number.isFinite(ttl) || ttl <= 0) throw new TypeError('jwt: cache.ttl must be > 0 ms');
    this.#max = max;
    this.ttl = ttl;
  }

  get(token: string): Promise<Principal> | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    this.#entries.delete(token);
    if (Date.now() > entry.until) return undefined;
    this.#entries.set(token, entry);
    return entry.principal;
  }

  set(token: string, principal: Promise<Principal>, until: number): void {
    this.#entries.delete(token);
    if (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(token, { principal, until });
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }
}

/** A token that does not verify: what RFC 6750 calls `invalid_token`, with why. */
export class TokenRejected extends Error {}

type KeySource = LocalJWKSet | JWTVerifyGetKey | KeyObject;

function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function checkAlgorithms(algorithms: readonly string[]): 'hmac' | 'asymmetric' {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new TypeError('jwt: algorithms must list the accepted algorithms (e.g. ["RS256"])');
  }
  for (const alg of algorithms) {
    if (!ASYMMETRIC.has(alg) && !HMAC.has(alg)) {
      throw new TypeError(`jwt: algorithm "${alg}" is not accepted (none is never accepted)`);
    }
  }
  const hmac = algorithms.filter((a) => HMAC.has(a)).length;
  if (hmac > 0 && hmac < algorithms.length) {
    throw new TypeError(
      'jwt: HMAC (HS*) and public-key algorithms cannot be mixed: a public key would become an HMAC secret',
    );
  }
  return hmac > 0 ? 'hmac' : 'asymmetric';
}

function localKey(key: KeyObject | string | Uint8Array, family: 'hmac' | 'asymmetric'): KeyObject {
  let object: KeyObject;
  if (typeof key === 'string') {
    if (family === 'hmac') {
      throw new TypeError('jwt: an HMAC secret must be bytes or a secret KeyObject, not a string');
    }
    object = createPublicKey(key);
  } else if (key instanceof KeyObject) {
    object = key;
  } else {
    if (family !== 'hmac') {
      throw new TypeError(
        'jwt: raw bytes are an HMAC secret; public-key algorithms need a public key',
      );
    }
    object = createSecretKey(key);
  }
  if (object.type === 'private') {
    throw new TypeError('jwt: give the public key, not the private one');
  }
  if ((object.type === 'secret') !== (family === 'hmac')) {
    throw new TypeError(
      `jwt: a ${object.type} key does not fit ${family === 'hmac' ? 'HS*' : 'public-key'} algorithms`,
    );
  }
  if (object.type === 'secret' && (object.symmetricKeySize ?? 0) < 32) {
    throw new TypeError('jwt: an HMAC secret needs at least 32 bytes');
  }
  return object;
}

const REASONS: Record<string, string> = {
  ERR_JWT_EXPIRED: 'The token has expired.',
  ERR_JOSE_ALG_NOT_ALLOWED: "The token's algorithm is not accepted.",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "The token's signature does not verify.",
  ERR_JWKS_NO_MATCHING_KEY: 'No trusted key matches the token.',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'Several trusted keys match the token and it names none (kid).',
  ERR_JWS_INVALID: 'The token is malformed.',
  ERR_JWT_INVALID: 'The token is malformed.',
  ERR_JOSE_NOT_SUPPORTED: "The token's algorithm or key is not supported.",
  ERR_JWK_INVALID: "The token's key is not usable.",
};

const CLAIMS: Record<string, string> = {
  aud: 'The token is not meant for this service (aud).',
  iss: 'The token is not from a trusted issuer (iss).',
  nbf: 'The token is not valid yet (nbf).',
  iat: 'The token is too old or issued in the future (iat).',
  typ: 'The token has the wrong type (typ).',
};

/** Why jose refused a token, in words a client may read (no key material, no claims). */
function reasonOf(err: unknown): string | undefined {
  const e = err as { code?: string; claim?: string; reason?: string };
  if (e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (e.reason === 'missing') return `The token has no "${e.claim}" claim.`;
    return CLAIMS[e.claim ?? ''] ?? `The token's "${e.claim}" claim is not acceptable.`;
  }
  return e.code === undefined ? undefined : REASONS[e.code];
}

/**
 * Verifies bearer JWTs with jose: the algorithms pinned, the signature checked against a key the
 * service trusts (a remote JWKS, local keys or one key), then `iss`, `aud`, `exp` (required),
 * `nbf` and `iat` within the clock skew. jose itself is loaded on the first token.
 */
export class JwtVerifier {
  readonly #options: JwtOptions;
  readonly #subject: string;
  readonly #scopeClaim: string | undefined;
  readonly #rolesClaim: string;
  readonly #required: string[];
  readonly #remote: RemoteKeySet | undefined;
  readonly #local: JSONWebKeySet | KeyObject | undefined;
  readonly #cache: VerifiedTokens | undefined;
  #key: KeySource | undefined;

  constructor(options: JwtOptions) {
    const family = checkAlgorithms(options.algorithms);
    const sources = [options.jwks, options.keys, options.key].filter((s) => s !== undefined);
    if (sources.length !== 1) throw new TypeError('jwt: give exactly one of jwks, keys or key');
    if (options.issuer === undefined || options.audience === undefined) {
      throw new TypeError(
        'jwt: issuer and audience are required: a token for another service must not pass',
      );
    }
    const skew = options.clockSkew ?? 30;
    if (!Number.isFinite(skew) || skew < 0)
      throw new TypeError('jwt: clockSkew must be seconds ≥ 0');
    if (options.jwks !== undefined) {
      if (family === 'hmac')
        throw new TypeError('jwt: a JWKS holds public keys; HS* cannot use one');
      this.#remote = new RemoteKeySet(
        typeof options.jwks === 'string' ? { url: options.jwks } : options.jwks,
      );
    } else if (options.keys !== undefined) {
      if (family === 'hmac')
        throw new TypeError('jwt: local JWK Sets are for public keys; give HS* a key');
      if (!Array.isArray(options.keys.keys))
        throw new TypeError('jwt: keys must be a JWK Set ({ keys: [...] })');
      this.#local = options.keys;
    } else {
      this.#local = localKey(options.key!, family);
    }
    this.#options = { ...options, clockSkew: skew };
    this.#subject = options.subjectClaim ?? 'sub';
    this.#scopeClaim = options.scopeClaim;
    this.#rolesClaim = options.rolesClaim ?? 'roles';
    this.#required = [...new Set(['exp', this.#subject, ...(options.requiredClaims ?? [])])];
    this.#cache =
      options.cache === false
        ? undefined
        : new VerifiedTokens(options.cache?.max ?? 5000, options.cache?.ttl ?? 60_000);
  }

  /** The remote key set, when keys come from a JWKS URL. */
  get remote(): RemoteKeySet | undefined {
    return this.#remote;
  }

  async #keySource(): Promise<KeySource> {
    if (this.#key !== undefined) return this.#key;
    const jose = await loadJose();
    if (this.#remote !== undefined) this.#key = this.#remote.resolve;
    else if (this.#local instanceof KeyObject) this.#key = this.#local;
    else this.#key = jose.createLocalJWKSet(this.#local!);
    return this.#key;
  }

  /**
   * The principal a token stands for. Rejects with `TokenRejected` when the token does not
   * verify, or with an HTTPError (503 `PRG_AUTH_UNAVAILABLE`) when its keys cannot be fetched.
   */
  verify(token: string): Promise<Principal> {
    const cache = this.#cache;
    // Tokens over 8 KiB are verified each time: the cache's memory stays under ~40 MiB.
    if (cache === undefined || token.length > 8192) return this.#verify(token);
    const hit = cache.get(token);
    if (hit !== undefined) return hit;
    // PERF: the promise is cached at once, so concurrent calls with one token verify it once.
    const pending = this.#verify(token);
    cache.set(token, pending, Date.now() + cache.ttl);
    pending.then(
      (principal) => {
        const skew = this.#options.clockSkew!;
        const claims = principal.claims as JWTPayload;
        let until = Date.now() + cache.ttl;
        until = Math.min(until, ((claims.exp as number) + skew) * 1000);
        const maxAge = this.#options.maxTokenAge;
        if (maxAge !== undefined && typeof claims.iat === 'number') {
          until = Math.min(until, (claims.iat + maxAge + skew) * 1000);
        }
        cache.set(token, pending, until);
      },
      () => cache.delete(token),
    );
    return pending;
  }

  async #verify(token: string): Promise<Principal> {
    const jose = await loadJose();
    const key = await this.#keySource();
    const o = this.#options;
    let payload: JWTPayload;
    try {
      const verifyOptions = {
        algorithms: [...o.algorithms],
        issuer: typeof o.issuer === 'string' ? o.issuer : [...o.issuer],
        audience: typeof o.audience === 'string' ? o.audience : [...o.audience],
        clockTolerance: o.clockSkew!,
        requiredClaims: this.#required,
        ...(o.maxTokenAge === undefined ? {} : { maxTokenAge: o.maxTokenAge }),
        ...(o.type === undefined ? {} : { typ: o.type }),
      };
      const result =
        key instanceof KeyObject
          ? await jose.jwtVerify(token, key, verifyOptions)
          : await jose.jwtVerify(token, key as JWTVerifyGetKey, verifyOptions);
      payload = result.payload;
    } catch (err) {
      if (err instanceof HTTPError) throw err;
      throw new TokenRejected(reasonOf(err) ?? 'The token does not verify.', { cause: err });
    }
    const subject = claimAt(payload, this.#subject);
    if (typeof subject !== 'string' || subject === '') {
      throw new TokenRejected(`The token's "${this.#subject}" claim is not a string.`);
    }
    const scopes =
      this.#scopeClaim !== undefined
        ? stringList(claimAt(payload, this.#scopeClaim))
        : payload.scope !== undefined
          ? stringList(payload.scope)
          : stringList(payload.scp);
    // Frozen: with the cache, one principal serves every request that sends the same token.
    return Object.freeze({
      subject,
      method: 'jwt',
      scopes: Object.freeze(scopes),
      roles: Object.freeze(stringList(claimAt(payload, this.#rolesClaim))),
      claims: Object.freeze(payload),
    });
  }

  /** Closes what the verifier opened (the JWKS client). */
  async close(): Promise<void> {
    await this.#remote?.close();
  }
}
