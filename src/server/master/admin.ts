import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { BindError } from '../bind-error.ts';
import { Rfc9110Response } from '../reason-phrase.ts';
import { type Address, formatAddress } from '../settings/setting.ts';

// PERF: builtins through process.getBuiltinModule, not an ESM import: the ESM facade of
// node:http reads every export, which loads Node's bundled undici (~14 MiB, ~80 ms per process).
const { createServer } = process.getBuiltinModule('node:http');
// PERF: node:crypto (OpenSSL's initialisation, ~3 MiB RSS) only once an admin token is set.
const crypto = () => process.getBuiltinModule('node:crypto');
const sha256 = (text: string) => crypto().createHash('sha256').update(text).digest();

/** Handles one admin request. Throwing (or rejecting) answers 500. */
export type AdminHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => void | Promise<void>;

/** Writes a JSON answer (`no-store`: probes and scrapers must never see a cached one). */
export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function problem(res: ServerResponse, status: number, title: string, detail?: string): void {
  const text = JSON.stringify({
    type: 'about:blank',
    title,
    status,
    ...(detail ? { detail } : {}),
  });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** The dashboard's sign-in page: the token goes into a same-site cookie, never into a URL. */
function signIn(res: ServerResponse): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Peregrine: sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font:16px system-ui;margin:15vh auto;max-width:24rem">
<h1 style="font-size:1.3rem">Peregrine dashboard</h1>
<p>This admin listener needs its token (<code>--admin-token</code>).</p>
<form id="f"><input id="t" type="password" autocomplete="current-password" placeholder="token" style="width:100%;padding:.4rem" autofocus>
<button style="margin-top:.6rem;padding:.4rem 1rem">Sign in</button></form>
<script>document.getElementById('f').onsubmit=function(e){e.preventDefault();
document.cookie='peregrine_admin_token='+encodeURIComponent(document.getElementById('t').value)+'; path=/; SameSite=Strict';
location.reload();};</script></body></html>`;
  res.writeHead(401, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(html);
}

/**
 * The master's admin listener: `/healthz`, `/readyz`, and whatever other parts register (the
 * telemetry part adds `/metrics`, `/dashboard`, `/api/*`). Routes are exact paths, or prefixes
 * when registered with a trailing `*` (`/api/*`). It runs in the master, which never loads
 * application code, so it answers even while every worker is busy or gone.
 */
export class AdminServer {
  readonly #exact = new Map<string, AdminHandler>();
  readonly #prefixes: Array<[method: string, prefix: string, handler: AdminHandler]> = [];
  readonly #log: Logger;
  #server: Server | undefined;
  #address: string | undefined;
  #guard: { digest: Buffer; covers: (path: string) => boolean } | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Adds a route: `route('GET', '/metrics', handler)`; `HEAD` is served by the `GET` route. */
  route(method: string, path: string, handler: AdminHandler): this {
    const m = method.toUpperCase();
    if (path.endsWith('*')) this.#prefixes.push([m, path.slice(0, -1), handler]);
    else this.#exact.set(`${m} ${path}`, handler);
    return this;
  }

  /**
   * Requires `token` on the paths `covers` accepts: `Authorization: Bearer TOKEN`, or the
   * `peregrine_admin_token` cookie the dashboard's sign-in page sets (same-site only).
   */
  protect(token: string, covers: (path: string) => boolean): this {
    this.#guard = { digest: sha256(token), covers };
    return this;
  }

  /** Whether a request may see a path. */
  #allowed(req: IncomingMessage, path: string): boolean {
    const guard = this.#guard;
    if (guard === undefined || !guard.covers(path)) return true;
    const auth = req.headers.authorization;
    let given: string | undefined;
    if (auth !== undefined && /^bearer /i.test(auth)) given = auth.slice(7).trim();
    else {
      const m = /(?:^|;\s*)peregrine_admin_token=([^;]*)/.exec(req.headers.cookie ?? '');
      if (m !== null) given = decodeURIComponent(m[1]!);
    }
    if (given === undefined) return false;
    // Digests of equal length, compared in constant time: the answer's timing tells nothing.
    return crypto().timingSafeEqual(sha256(given), guard.digest);
  }

  /** The routes, as `METHOD path` strings. */
  routes(): string[] {
    return [
      ...this.#exact.keys(),
      ...this.#prefixes.map(([method, prefix]) => `${method} ${prefix}*`),
    ];
  }

  #find(method: string, path: string): AdminHandler | undefined {
    const exact = this.#exact.get(`${method} ${path}`);
    if (exact !== undefined) return exact;
    let best: [string, AdminHandler] | undefined;
    for (const [m, prefix, handler] of this.#prefixes) {
      if (
        m === method &&
        path.startsWith(prefix) &&
        (best === undefined || prefix.length > best[0].length)
      ) {
        best = [prefix, handler];
      }
    }
    return best?.[1];
  }

  readonly #handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (!this.#allowed(req, url.pathname)) {
      res.setHeader('www-authenticate', 'Bearer realm="peregrine-admin"');
      if (url.pathname === '/dashboard' && method === 'GET') signIn(res);
      else problem(res, 401, 'Unauthorized', 'This admin endpoint needs the admin token.');
      return;
    }
    const handler = this.#find(method, url.pathname);
    if (handler === undefined) {
      const other = ['GET', 'POST', 'PUT', 'DELETE'].filter((m) => this.#find(m, url.pathname));
      if (other.length > 0) {
        res.setHeader('allow', other.join(', '));
        problem(res, 405, 'Method Not Allowed');
      } else {
        problem(res, 404, 'Not Found', `No admin endpoint at ${url.pathname}.`);
      }
      return;
    }
    const fail = (err: unknown) => {
      this.#log.error({ err, path: url.pathname }, 'admin handler failed');
      if (!res.headersSent) problem(res, 500, 'Internal Server Error');
      else res.destroy();
    };
    try {
      const r = handler(req, res, url);
      if (r !== undefined) r.catch(fail);
    } catch (err) {
      fail(err);
    }
  };

  /** Starts listening; resolves to the address (`HOST:PORT`). Rejects with a BindError. */
  async listen(address: Address): Promise<string> {
    const server = createServer(
      { keepAliveTimeout: 5000, headersTimeout: 10_000, ServerResponse: Rfc9110Response },
      this.#handle,
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new BindError('admin', address, err)));
      server.listen('path' in address ? { path: address.path } : address, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    this.#server = server;
    const a = server.address();
    this.#address =
      typeof a === 'string' || a === null
        ? `unix:${a}`
        : formatAddress({ host: (a as AddressInfo).address, port: (a as AddressInfo).port });
    return this.#address;
  }

  /** Where it listens (`HOST:PORT`, port 0 resolved), once it does. */
  get address(): string | undefined {
    return this.#address;
  }

  /** Stops listening and drops its connections. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
