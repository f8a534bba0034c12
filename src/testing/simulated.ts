import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { RawRequest, RawResponse } from '../app/transport.ts';

/** A request with no socket: emits its body as data events once the App starts reading. */
export class SimulatedRequest extends EventEmitter implements RawRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion = '1.1';
  readonly socket: { remoteAddress: string; encrypted: boolean };
  complete = false;
  #chunks: Buffer[];
  #flowing = false;
  #ended = false;

  constructor(options: {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: Buffer[];
    remoteAddress: string;
    encrypted: boolean;
  }) {
    super();
    this.method = options.method;
    this.url = options.url;
    this.headers = options.headers;
    this.#chunks = options.body;
    this.socket = { remoteAddress: options.remoteAddress, encrypted: options.encrypted };
  }

  pause(): this {
    this.#flowing = false;
    return this;
  }

  resume(): this {
    if (this.#flowing || this.#ended) return this;
    this.#flowing = true;
    queueMicrotask(() => this.#flow());
    return this;
  }

  #flow(): void {
    while (this.#flowing && this.#chunks.length > 0) this.emit('data', this.#chunks.shift()!);
    if (this.#flowing && this.#chunks.length === 0 && !this.#ended) {
      this.#ended = true;
      this.complete = true;
      this.emit('end');
    }
  }

  /** Simulates the client going away. */
  abort(): void {
    if (this.complete) return;
    this.#ended = true;
    this.emit('aborted');
    this.emit('close');
  }
}

/** A response that records what the App writes. */
export class SimulatedResponse extends EventEmitter implements RawResponse {
  statusCode = 200;
  headers: OutgoingHttpHeaders = {};
  readonly chunks: Buffer[] = [];
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  shouldKeepAlive = true;

  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    if (this.headersSent) throw new Error('headers already sent');
    this.statusCode = status;
    for (const [k, v] of Object.entries(headers ?? {})) {
      if (v !== undefined) this.headers[k.toLowerCase()] = v;
    }
    this.headersSent = true;
    return this;
  }

  write(chunk: string | Uint8Array): boolean {
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    return true;
  }

  end(chunk?: string | Uint8Array | (() => void), cb?: () => void): this {
    if (this.writableEnded) return this;
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    }
    if (chunk !== undefined) this.write(chunk);
    else if (!this.headersSent) this.writeHead(this.statusCode);
    this.writableEnded = true;
    queueMicrotask(() => {
      this.writableFinished = true;
      this.emit('finish');
      cb?.();
      this.emit('close');
    });
    return this;
  }

  /** Simulates the connection dropping. */
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
    return this;
  }
}
