import type { RequestContext } from '../app/request.ts';
import { authRequired } from './errors.ts';

declare module '../app/request.ts' {
  interface RequestContext {
    /** Who is calling, once `peregrine/auth` authenticated the request (see `principalOf`). */
    principal?: Principal;
  }
}

/** How a caller proved who it is. */
export type AuthMethod = 'jwt' | 'api-key';

/**
 * An authenticated caller, as `peregrine/auth` puts it in `req.context.principal`. `C` types the
 * claims your identity provider adds (`principalOf<{ tenant: string }>(req)?.claims.tenant`).
 */
export interface Principal<C extends object = Record<string, unknown>> {
  /** The caller: the token's subject (`sub` by default) or the API key's subject. */
  readonly subject: string;
  /** How it authenticated. */
  readonly method: AuthMethod;
  /** The scopes it was granted (`scope`/`scp` claims, or the key's). */
  readonly scopes: readonly string[];
  /** Its roles (the `roles` claim by default, or the key's). */
  readonly roles: readonly string[];
  /** The verified JWT claims (empty for an API key). */
  readonly claims: Readonly<Partial<C> & Record<string, unknown>>;
  /** The API key's name, when it has one (never the key). */
  readonly keyName?: string | undefined;
}

/**
 * The authenticated caller of a request, or `undefined` for an anonymous one. `C` types the
 * claims (they are verified, not validated against `C`: the provider is trusted for their shape).
 */
export function principalOf<C extends object = Record<string, unknown>>(req: {
  readonly context: RequestContext;
}): Principal<C> | undefined {
  return req.context.principal as Principal<C> | undefined;
}

/**
 * The authenticated caller of a request; a 401 (`PRG_AUTH_REQUIRED`) when there is none, for a
 * responder that reads the caller on a route whose guard made authentication optional.
 */
export function requirePrincipal<C extends object = Record<string, unknown>>(req: {
  readonly context: RequestContext;
}): Principal<C> {
  const principal = req.context.principal;
  if (principal === undefined) throw authRequired(['Bearer']);
  return principal as Principal<C>;
}
