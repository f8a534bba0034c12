import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * Where the built UI lives: `dist/dashboard-ui/` of the package (src/dashboard and dist/dashboard
 * are both two levels below the package root). `npm run build` (run by `npm install` in a
 * checkout, and before publishing) writes it.
 */
export const UI_DIR = fileURLToPath(new URL('../../dist/dashboard-ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page may load its own scripts and styles and talk to its own origin: nothing else. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
}

/**
 * A built UI's files, read once into memory (with their gzip): the dashboard's, served from
 * `/dashboard`, or another (`peregrine apm` serves dist/apm-ui the same way).
 */
export class UiAssets {
  readonly #files = new Map<string, Asset>();
  /** Why there are none (the UI was not built), for the 503 page. */
  readonly missing: string | undefined;

  constructor(dir = UI_DIR, what = 'dashboard UI') {
    if (!existsSync(join(dir, 'index.html'))) {
      this.missing = `The ${what} is not built (no ${join(dir, 'index.html')}): run \`npm run build:ui\`.`;
      return;
    }
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type === undefined) continue;
      const body = readFileSync(join(dir, name));
      this.#files.set(name, { type, body, gzip: gzipSync(body, { level: 9 }) });
    }
  }

  /** Answers `GET /dashboard` (the page) and `/dashboard/NAME` (its files). */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): void {
    this.send(req, res, url.pathname === '/dashboard' ? 'index.html' : url.pathname.slice(11));
  }

  /** Answers with the file `name` (`index.html` for the page), or 404 (503 when not built). */
  send(req: IncomingMessage, res: ServerResponse, name: string): void {
    const asset = this.#files.get(name);
    if (asset === undefined) {
      const text = this.missing ?? `No UI file ${name}.`;
      res.writeHead(this.missing === undefined ? 404 : 503, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(text);
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': body.byteLength,
      'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=300',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Total gzipped bytes of the page and its files. */
  get gzipBytes(): number {
    let n = 0;
    for (const a of this.#files.values()) n += a.gzip.byteLength;
    return n;
  }
}
