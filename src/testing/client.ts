import type { IncomingHttpHeaders } from 'node:http';
import type { App } from '../app/app.ts';
import { SimulatedRequest, SimulatedResponse } from './simulated.ts';

/** A request to simulate. */
export interface SimulateOptions {
  method?: string;
  /** The path, optionally with a query string. */
  path?: string;
  /** Query parameters appended to the path. */
  query?: Record<string, string | number | boolean | ReadonlyArray<string | number>>;
  headers?: Record<string, string | string[]>;
  /** A JSON body (sets Content-Type: application/json). */
  json?: unknown;
  /** A raw body. */
  body?: string | Uint8Array | ReadonlyArray<Uint8Array>;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  /** The peer address (default 127.0.0.1). */
  remoteAddress?: string;
  /** Pretend the connection is TLS. */
  encrypted?: boolean;
  /** Abort the simulated connection when this signal fires. */
  signal?: AbortSignal;
}

/** The outcome of a simulated request. */
export interface SimulatedResult {
  readonly status: number;
  /** Response headers with lower-case names. */
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  readonly text: string;
  /** The body parsed as JSON (throws if it is not JSON). */
  readonly json: unknown;
  /** One header as a string. */
  header(name: string): string | undefined;
}

function toHeaders(raw: Record<string, unknown>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return out;
}

/** Simulates one request against an App with no socket, and resolves once the response ends. */
export function simulate(app: App, options: SimulateOptions = {}): Promise<SimulatedResult> {
  let url = options.path ?? '/';
  if (options.query !== undefined) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query)) {
      if (Array.isArray(v)) for (const item of v) qs.append(k, String(item));
      else qs.append(k, String(v));
    }
    url += (url.includes('?') ? '&' : '?') + qs.toString();
  }
  const headers: IncomingHttpHeaders = { host: 'localhost' };
  for (const [k, v] of Object.entries(options.headers ?? {})) headers[k.toLowerCase()] = v;
  let chunks: Buffer[] = [];
  if (options.json !== undefined) {
    chunks = [Buffer.from(JSON.stringify(options.json))];
    headers['content-type'] ??= 'application/json';
  } else if (typeof options.body === 'string') {
    chunks = [Buffer.from(options.body)];
  } else if (options.body instanceof Uint8Array) {
    chunks = [Buffer.from(options.body)];
  } else if (options.body !== undefined) {
    chunks = options.body.map((c) => Buffer.from(c));
  }
  if (chunks.length > 0 || options.chunked) {
    if (options.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] ??= String(chunks.reduce((n, c) => n + c.length, 0));
  }
  const req = new SimulatedRequest({
    method: (options.method ?? 'GET').toUpperCase(),
    url,
    headers,
    body: chunks,
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
    encrypted: options.encrypted ?? false,
  });
  const res = new SimulatedResponse();
  return new Promise((resolve) => {
    const finish = () => {
      const body = Buffer.concat(res.chunks);
      const responseHeaders = toHeaders(res.headers);
      resolve({
        status: res.statusCode,
        headers: responseHeaders,
        body,
        text: body.toString('utf8'),
        get json(): unknown {
          return JSON.parse(body.toString('utf8'));
        },
        header(name: string) {
          const v = responseHeaders[name.toLowerCase()];
          return Array.isArray(v) ? v.join(', ') : v;
        },
      });
    };
    res.once('close', finish);
    options.signal?.addEventListener('abort', () => {
      req.abort();
      res.destroy();
    });
    app.handle(req, res);
  });
}

type MethodOptions = Omit<SimulateOptions, 'method' | 'path'>;

/**
 * A client bound to an App, with one method per HTTP method (Falcon's TestClient). Like a server,
 * it runs the App's startup hooks before the first request (so `openDatabase().install(app)`
 * opens the database); `close()` — or `await using` — runs its shutdown hooks.
 */
export class TestClient implements AsyncDisposable {
  /** The App under test. */
  readonly app: App;
  /** Options applied to every request. */
  readonly defaults: MethodOptions;
  constructor(app: App, defaults: MethodOptions = {}) {
    this.app = app;
    this.defaults = defaults;
  }

  /** Simulates any request, after the App's startup hooks (run once, on first use). */
  async simulate(options: SimulateOptions): Promise<SimulatedResult> {
    await this.app.startup();
    return simulate(this.app, {
      ...this.defaults,
      ...options,
      headers: { ...this.defaults.headers, ...options.headers },
    });
  }

  /** Runs the App's shutdown hooks (closing what startup opened), if it was started. */
  async close(): Promise<void> {
    if (this.app.started) await this.app.shutdown();
  }

  /** `await using client = new TestClient(app)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'GET', path });
  }
  head(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'HEAD', path });
  }
  post(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'POST', path });
  }
  put(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'PUT', path });
  }
  patch(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'PATCH', path });
  }
  delete(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'DELETE', path });
  }
  options(path: string, options: MethodOptions = {}) {
    return this.simulate({ ...options, method: 'OPTIONS', path });
  }
}
