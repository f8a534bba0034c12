/**
 * `peregrine/auth`: who is calling. Bearer JWTs verified with jose (algorithms pinned; keys from a
 * JWKS fetched through `peregrine/client`, or local), API keys stored hashed and compared in
 * constant time, the caller in `req.context.principal`, and guards that require scopes or roles.
 */
export {
  type ApiKeyOptions,
  type ApiKeyRecord,
  ApiKeys,
  generateApiKey,
  hashApiKey,
} from './api-key.ts';
export {
  Authenticator,
  type AuthOptions,
  type GuardHook,
  type Requirement,
} from './authenticator.ts';
export { AuthUnavailableError } from './errors.ts';
export type { JwksOptions, RemoteKeySet } from './jwks.ts';
export { type JwtAlgorithm, type JwtOptions, JwtVerifier } from './jwt.ts';
export { type AuthMethod, type Principal, principalOf, requirePrincipal } from './principal.ts';
