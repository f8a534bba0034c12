import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  /** Compressed on the first request that accepts gzip. */
  gzip?: Buffer;
}

/** Compresses an asset once (level 9: the files are small and served many times). */
function gzipOf(asset: Asset): Buffer {
  // PERF: node:zlib is loaded with the first compressed response, not when the master starts.
  asset.gzip ??= process.getBuiltinModule('node:zlib').gzipSync(asset.body, { level: 9 });
  return asset.gzip;
}

/**
 * A built UI's files: the dashboard's, served from `/dashboard`, or another (`peregrine apm`
 * serves dist/apm-ui the same way). Read into memory with the first request for one (a master
 * nobody opens the dashboard of never holds them), each compressed once on first use.
 */
export class UiAssets {
  readonly #dir: string;
  #files: Map<string, Asset> | undefined;
  /** Why there are none (the UI was not built), for the 503 page. */
  readonly missing: string | undefined;

  constructor(dir = UI_DIR, what = 'dashboard UI') {
    this.#dir = dir;
    if (!existsSync(join(dir, 'index.html'))) {
      this.missing = `The ${what} is not built (no ${join(dir, 'index.html')}): run \`npm run build:ui\`.`;
    }
  }

  /** The files, read on first use. */
  #read(): Map<string, Asset> {
    if (this.#files !== undefined) return this.#files;
    const files = new Map<string, Asset>();
    if (this.missing === undefined) {
      for (const name of readdirSync(this.#dir)) {
        const type = TYPES[extname(name)];
        if (type === undefined) continue;
        files.set(name, { type, body: readFileSync(join(this.#dir, name)) });
      }
    }
    this.#files = files;
    return files;
  }

  /** Answers `GET /dashboard` (the page) and `/dashboard/NAME` (its files). */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): void {
    this.send(req, res, url.pathname === '/dashboard' ? 'index.html' : url.pathname.slice(11));
  }

  /** Answers with the file `name` (`index.html` for the page), or 404 (503 when not built). */
  send(req: IncomingMessage, res: ServerResponse, name: string): void {
    const asset = this.#read().get(name);
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
    const body = gzip ? gzipOf(asset) : asset.body;
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
    for (const a of this.#read().values()) n += gzipOf(a).byteLength;
    return n;
  }
}
