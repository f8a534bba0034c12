import type { OutgoingHttpHeaders } from 'node:http';
import { bodiless } from '../../app/send.ts';
import type { RawResponse } from '../../app/transport.ts';
import { reasonPhrase } from '../reason-phrase.ts';
import type { Connection } from './connection.ts';
import { LightEmitter } from './emitter.ts';
import { DISCARD_LIMIT, type EngineRequest } from './request.ts';

// PERF: builtins through process.getBuiltinModule, not an ESM import: the ESM facade of
// node:http reads every export, which loads Node's bundled undici (~14 MiB, ~80 ms per process).
const { validateHeaderName, validateHeaderValue } = process.getBuiltinModule('node:http');

/** What the engine hands the request listener for a response (ServerResponse has the same). */
export interface EngineResponse extends RawResponse {
  readonly statusCode: number;
  getHeader(name: string): number | string | string[] | undefined;
}

const STATUS_LINE: string[] = [];
function statusLine(status: number): string {
  let line = STATUS_LINE[status];
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    if (status >= 100 && status < 600) STATUS_LINE[status] = line;
  }
  return line;
}

/**
 * Names already validated (node:http's own check), with their lower case: responses repeat the
 * same few names.
 */
const validNames = new Map<string, string>();
function lowerName(name: string): string {
  const known = validNames.get(name);
  if (known !== undefined) return known;
  validateHeaderName(name);
  const lower = name.toLowerCase();
  if (validNames.size < 1000) validNames.set(name, lower);
  return lower;
}

const NON_ASCII = /[\x80-\xff]/;

/**
 * The `Date` header's value, formatted once a second. PERF: no clock read per response (a read
 * costs 100–150 ns on this kind of VM); a timer drops the string at the next second boundary,
 * as node:http does.
 */
let dateString: string | undefined;
const dropDate = (): void => {
  dateString = undefined;
};
function httpDate(): string {
  if (dateString === undefined) {
    const now = new Date();
    dateString = now.toUTCString();
    setTimeout(dropDate, 1000 - now.getMilliseconds()).unref();
  }
  return dateString;
}

/** A response written by the engine: what the App writes (RawResponse). */
export class EngineResponseImpl extends LightEmitter implements EngineResponse {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  shouldKeepAlive: boolean;
  readonly req: EngineRequest;
  #head = '';
  #headAscii = true;
  #headers: OutgoingHttpHeaders | undefined;
  #hasLength = false;
  #chunked = false;
  #headWritten = false;
  #noBody: boolean;
  #closeAfter = false;
  #hasConnectionHeader = false;
  readonly #conn: Connection;

  constructor(conn: Connection, req: EngineRequest, keepAlive: boolean) {
    super();
    this.#conn = conn;
    this.req = req;
    this.shouldKeepAlive = keepAlive;
    this.#noBody = req.method === 'HEAD';
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.#headers?.[name.toLowerCase()];
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    if (this.headersSent) {
      throw Object.assign(new Error('Cannot write headers after they are sent to the client'), {
        code: 'ERR_HTTP_HEADERS_SENT',
      });
    }
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw Object.assign(new RangeError(`Invalid status code: ${status}`), {
        code: 'ERR_HTTP_INVALID_STATUS_CODE',
      });
    }
    let head = statusLine(status);
    let ascii = true;
    let hasDate = false;
    let hasConnection = false;
    let hasLength = false;
    let closeAfter = false;
    if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined) continue;
        const lower = lowerName(name);
        if (lower === 'content-length') hasLength = true;
        else if (lower === 'date') hasDate = true;
        else if (lower === 'connection') {
          hasConnection = true;
          if (/\bclose\b/i.test(String(value))) closeAfter = true;
        } else if (lower === 'transfer-encoding') {
          // The engine frames the body itself (chunked when its length is not known up front).
          continue;
        }
        if (Array.isArray(value)) {
          for (const v of value) {
            const s = String(v);
            validateHeaderValue(name, s);
            if (ascii && NON_ASCII.test(s)) ascii = false;
            head += `${name}: ${s}\r\n`;
          }
        } else {
          const s = typeof value === 'string' ? value : String(value);
          validateHeaderValue(name, s);
          if (ascii && NON_ASCII.test(s)) ascii = false;
          head += `${name}: ${s}\r\n`;
        }
      }
    }
    if (!hasDate) head += `Date: ${httpDate()}\r\n`;
    // Nothing is kept from a call that threw (a bad header): the caller may try again.
    this.#hasLength = hasLength;
    this.#closeAfter = closeAfter;
    this.statusCode = status;
    this.#headers = headers;
    this.#head = head;
    this.#headAscii = ascii;
    if (bodiless(status)) this.#noBody = true;
    this.#hasConnectionHeader = hasConnection;
    this.headersSent = true;
    return this;
  }

  /** The head's closing lines: connection management, framing. */
  #finishHead(length: number): string {
    let head = this.#head;
    const keepAlive =
      this.shouldKeepAlive &&
      !this.#closeAfter &&
      !this.#conn.draining &&
      // An answer that ends with much of the body unread closes rather than drop the rest.
      !(this.writableEnded && this.req.remaining > DISCARD_LIMIT);
    if (!keepAlive) this.#closeAfter = true;
    if (!this.#hasConnectionHeader) {
      head += keepAlive ? this.#conn.keepAliveLines : 'Connection: close\r\n';
    }
    if (length >= 0) {
      if (!this.#hasLength && !this.#noBody) head += `Content-Length: ${length}\r\n`;
    } else if (!this.#noBody && !this.#hasLength) {
      this.#chunked = true;
      head += 'Transfer-Encoding: chunked\r\n';
    }
    return `${head}\r\n`;
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.writableEnded || this.destroyed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const socket = this.#conn.socket;
    let ok = true;
    if (!this.#headWritten) {
      this.#headWritten = true;
      ok = socket.write(this.#finishHead(-1), 'latin1');
    }
    if (this.#noBody) return ok;
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (size === 0) return ok;
    if (this.#chunked && !this.#hasLength) {
      socket.cork();
      socket.write(`${size.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      ok = socket.write(chunk);
    }
    if (!ok) this.#conn.waitDrain(this);
    return ok;
  }

  end(chunk?: string | Uint8Array | (() => void), cb?: () => void): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    }
    if (this.writableEnded || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const socket = this.#conn.socket;
    this.writableEnded = true;
    if (!this.#headWritten) {
      this.#headWritten = true;
      if (chunk === undefined || this.#noBody) {
        socket.write(this.#finishHead(0), 'latin1');
      } else if (typeof chunk === 'string') {
        const size = this.#hasLength ? 0 : Buffer.byteLength(chunk);
        const head = this.#finishHead(size);
        if (this.#headAscii) socket.write(head + chunk);
        else {
          socket.cork();
          socket.write(head, 'latin1');
          socket.write(chunk);
          socket.uncork();
        }
      } else {
        socket.cork();
        socket.write(this.#finishHead(chunk.byteLength), 'latin1');
        socket.write(chunk);
        socket.uncork();
      }
    } else if (!this.#noBody) {
      const size =
        chunk === undefined
          ? 0
          : typeof chunk === 'string'
            ? Buffer.byteLength(chunk)
            : chunk.byteLength;
      if (this.#chunked && !this.#hasLength) {
        socket.cork();
        if (size > 0) {
          socket.write(`${size.toString(16)}\r\n`, 'latin1');
          socket.write(chunk!);
          socket.write('\r\n0\r\n\r\n', 'latin1');
        } else socket.write('0\r\n\r\n', 'latin1');
        socket.uncork();
      } else if (size > 0) socket.write(chunk!);
    }
    this.writableFinished = true;
    this.#conn.finish(this, this.#closeAfter);
    if (cb !== undefined) process.nextTick(cb);
    if (this.listened) process.nextTick(emitDone, this);
    return this;
  }

  /** @internal The connection closed before the response was complete. */
  abort(): void {
    if (this.writableFinished) return;
    this.destroyed = true;
    this.emit('close');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#conn.socket.destroy();
  }
}

function emitDone(res: EngineResponseImpl): void {
  res.emit('finish');
  res.emit('close');
  res.req.emit('close');
}
