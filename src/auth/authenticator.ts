import type { App } from '../app/app.ts';
import type { BeforeHook, Middleware } from '../app/middleware.ts';
import type { OpenAPIGuard } from '../app/openapi.ts';
import type { Request } from '../app/request.ts';
import { type ApiKeyOptions, ApiKeys } from './api-key.ts';
import { authForbidden, authInvalid, authRequired, challenge } from './errors.ts';
import { type JwtOptions, JwtVerifier, TokenRejected } from './jwt.ts';
import type { Principal } from './principal.ts';

/** What a route or responder requires of its caller. */
export interface Requirement {
  /** Scopes the caller must all have. */
  scopes?: readonly string[];
  /** Roles of which the caller must have at least one. */
  roles?: readonly string[];
}

/** Options of an Authenticator: bearer JWTs, API keys, or both. */
export interface AuthOptions {
  /** Bearer JWTs (`Authorization: Bearer …`). */
  jwt?: JwtOptions;
  /** API keys in a header (`X-API-Key` by default), stored hashed. */
  apiKeys?: ApiKeyOptions;
  /** The realm named in `WWW-Authenticate` (default `api`). */
  realm?: string;
  /** Names of the OpenAPI security schemes (default `bearerAuth` and `apiKeyAuth`). */
  schemeNames?: { bearer?: string; apiKey?: string };
}

/** A guard made by `requires()` or `middleware()`: a hook or middleware with its OpenAPI facts. */
export type GuardHook = BeforeHook & { readonly openapi: OpenAPIGuard };

// RFC 6750: the scheme (case-insensitive), then one b64token.
const BEARER_SCHEME = /^bearer(?: |$)/i;
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Authenticates callers by bearer JWT or API key and enforces what routes require. The caller
 * lands in `req.context.principal` (read it with `principalOf(req)`). No credentials → anonymous
 * (a guard that requires anything answers 401 with `WWW-Authenticate`); credentials that do not
 * verify → 401 wherever they are sent; authenticated without a required scope or role → 403.
 *
 * ```ts
 * const auth = new Authenticator({ jwt: { jwks: 'https://idp.example/jwks.json',
 *   issuer: 'https://idp.example/', audience: 'notes', algorithms: ['RS256'] } }).install(app);
 * app.addRoute('/notes', notes, { before: [auth.requires('notes:read')] });
 * ```
 */
export class Authenticator {
  /** The bearer-JWT verifier, when JWTs are accepted. */
  readonly jwt: JwtVerifier | undefined;
  /** The API keys, when they are accepted. */
  readonly apiKeys: ApiKeys | undefined;
  /** The OpenAPI security schemes of this authenticator, by name. */
  readonly securitySchemes: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly #realm: string;
  readonly #bearerName: string;
  readonly #apiKeyName: string;
  readonly #challenges: string[];

  constructor(options: AuthOptions) {
    if (options.jwt === undefined && options.apiKeys === undefined) {
      throw new TypeError('Authenticator: give jwt, apiKeys or both');
    }
    this.jwt = options.jwt === undefined ? undefined : new JwtVerifier(options.jwt);
    this.apiKeys = options.apiKeys === undefined ? undefined : new ApiKeys(options.apiKeys);
    this.#realm = options.realm ?? 'api';
    this.#bearerName = options.schemeNames?.bearer ?? 'bearerAuth';
    this.#apiKeyName = options.schemeNames?.apiKey ?? 'apiKeyAuth';
    const schemes: Record<string, Record<string, unknown>> = {};
    this.#challenges = [];
    if (this.jwt !== undefined) {
      schemes[this.#bearerName] = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };
      this.#challenges.push(challenge('Bearer', { realm: this.#realm }));
    }
    if (this.apiKeys !== undefined) {
      schemes[this.#apiKeyName] = { type: 'apiKey', in: 'header', name: this.apiKeys.header };
      this.#challenges.push(
        challenge('ApiKey', { realm: this.#realm, header: this.apiKeys.header }),
      );
    }
    this.securitySchemes = schemes;
  }

  /**
   * Who the request comes from: `undefined` when it carries no credentials this authenticator
   * reads; rejects with a 401 when they do not verify, with a 503 when the JWKS cannot be had.
   * Sets `req.context.principal`; a second call returns the same principal.
   */
  async authenticate(req: Request): Promise<Principal | undefined> {
    const known = req.context.principal;
    if (known !== undefined) return known;
    let principal: Principal | undefined;
    const authorization = req.headers.authorization;
    if (
      this.jwt !== undefined &&
      authorization !== undefined &&
      BEARER_SCHEME.test(authorization)
    ) {
      const bearer = BEARER.exec(authorization);
      if (bearer === null) throw this.#invalid('The bearer token is malformed.');
      try {
        principal = await this.jwt.verify(bearer[1]!);
      } catch (err) {
        if (err instanceof TokenRejected) throw this.#invalid(err.message);
        throw err;
      }
    } else if (this.apiKeys !== undefined) {
      const presented = req.headers[this.apiKeys.header];
      if (typeof presented === 'string') {
        const record = await this.apiKeys.find(presented.trim(), req);
        if (record === undefined) throw this.#invalid('The API key is not valid.', false);
        principal = {
          subject: record.subject,
          method: 'api-key',
          scopes: record.scopes ?? [],
          roles: record.roles ?? [],
          claims: {},
          keyName: record.name,
        };
      } else if (presented !== undefined) {
        throw this.#invalid('Send one API key.', false);
      }
    }
    if (principal !== undefined) req.context.principal = principal;
    return principal;
  }

  #invalid(detail: string, bearer = true) {
    const challenges = this.#challenges.map((c) =>
      bearer && c.startsWith('Bearer')
        ? challenge('Bearer', {
            realm: this.#realm,
            error: 'invalid_token',
            error_description: detail,
          })
        : c,
    );
    return authInvalid(challenges, detail);
  }

  /** Throws the 401 or 403 a requirement calls for, or returns when the caller meets it. */
  #enforce(principal: Principal | undefined, requirement: Requirement): void {
    if (principal === undefined) throw authRequired(this.#challenges);
    const scopes = requirement.scopes ?? [];
    const missing = scopes.filter((s) => !principal.scopes.includes(s));
    if (missing.length > 0) {
      const challenges =
        principal.method === 'jwt'
          ? [
              challenge('Bearer', {
                realm: this.#realm,
                error: 'insufficient_scope',
                scope: scopes.join(' '),
              }),
            ]
          : undefined;
      throw authForbidden(`The caller lacks the scope ${missing.join(', ')}.`, challenges);
    }
    const roles = requirement.roles ?? [];
    if (roles.length > 0 && !roles.some((r) => principal.roles.includes(r))) {
      throw authForbidden(`The caller needs one of the roles ${roles.join(', ')}.`);
    }
  }

  #openapi(requirement: Requirement | undefined): OpenAPIGuard {
    const scopes = [...(requirement?.scopes ?? [])];
    const security = Object.keys(this.securitySchemes).map((name) => ({ [name]: scopes }));
    if (requirement === undefined) {
      // Optional authentication: anonymous callers pass too.
      return { securitySchemes: this.securitySchemes, security: [...security, {}] };
    }
    const responses: Record<string, string> = { 401: 'No or invalid credentials' };
    if (scopes.length > 0 || (requirement.roles?.length ?? 0) > 0) {
      responses[403] = 'A required scope or role is missing';
    }
    return { securitySchemes: this.securitySchemes, security, responses };
  }

  /**
   * A before hook requiring an authenticated caller with every scope listed — `requires()` for
   * any caller, `requires('notes:write')`, or `requires({ scopes, roles })` (roles: any one of
   * them). Put it in a route's `before`, a responder's `responder({ before })` or `@before`.
   */
  requires(...args: [Requirement] | string[]): GuardHook {
    const requirement: Requirement =
      typeof args[0] === 'object' ? args[0] : { scopes: args as string[] };
    for (const name of [...(requirement.scopes ?? []), ...(requirement.roles ?? [])]) {
      if (typeof name !== 'string' || name === '' || /\s/.test(name)) {
        throw new TypeError(`requires: "${String(name)}" is not a scope or role name`);
      }
    }
    const hook = async (req: Request) => {
      this.#enforce(await this.authenticate(req), requirement);
    };
    return Object.assign(hook, { openapi: this.#openapi(requirement) });
  }

  /**
   * Middleware authenticating every routed request (after routing, so a 404 costs nothing):
   * without a requirement it only identifies callers (anonymous ones pass), with one it guards
   * every route it is used on.
   */
  middleware(requirement?: Requirement): Middleware & { readonly openapi: OpenAPIGuard } {
    return {
      openapi: this.#openapi(requirement),
      processResource: async (req) => {
        const principal = await this.authenticate(req);
        if (requirement !== undefined) this.#enforce(principal, requirement);
      },
    };
  }

  /**
   * Ties the authenticator to an App: the JWKS is fetched at startup (a failure is logged and
   * retried on the first token, not fatal), its failures are logged with the App's logger (once
   * per outage), and the JWKS client closes at shutdown.
   */
  install(app: App): this {
    const remote = this.jwt?.remote;
    if (remote !== undefined) remote.logger ??= app.logger;
    app.onStartup(async () => {
      try {
        await remote?.refresh();
      } catch {
        // Logged by the key set; the first token that needs the keys tries again.
      }
    });
    app.onShutdown(() => this.close());
    return this;
  }

  /** Closes the JWKS client, if one was made. */
  async close(): Promise<void> {
    await this.jwt?.close();
  }
}
