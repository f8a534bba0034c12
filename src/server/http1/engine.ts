import {
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type Server,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import type { RawRequest, RawResponse } from '../../app/transport.ts';
import { LightEmitter } from './emitter.ts';
import { type ParsedHead, parseHead } from './parse.ts';

/**
 * Peregrine's HTTP/1.1 engine: serves connections straight from `node:net`, with its own
 * request-head parser and a response writer that sends head and body in one write. It exists for
 * speed: node:http builds a Readable IncomingMessage and a Writable ServerResponse per request and
 * formats headers through several layers; on a hello-world route that is most of the cost (see
 * docs/performance.md: `npm run bench` runs the same App as `peregrine-node-engine`).
 *
 * It serves the strict subset of HTTP/1.1 that API clients send (see ./parse.ts). Anything else —
 * chunked request bodies, Expect, Upgrade, HTTP/1.0, malformed or ambiguous heads — hands the
 * connection, with every byte not yet consumed, to a node:http server, which serves it from then
 * on exactly as it would serve any connection. So node:http remains the authority on what is
 * malformed, and a request is never rejected here that node:http would accept.
 */
export interface EngineOptions {
  /** Idle keep-alive timeout (ms). */
  keepAliveTimeout: number;
  /** Time allowed for the request head (ms). */
  headersTimeout: number;
  /** Time allowed for the whole request, head and body (ms; 0 = none). */
  requestTimeout: number;
  /** Largest request head (bytes); a larger one goes to node:http, which answers 431. */
  maxHeaderSize: number;
  /** How often timeouts are checked (ms). */
  checkInterval: number;
}

/** What the engine hands the request listener for a response (ServerResponse has the same). */
export interface EngineResponse extends RawResponse {
  readonly statusCode: number;
  getHeader(name: string): number | string | string[] | undefined;
}

export type EngineListener = (req: EngineRequest, res: EngineResponseImpl) => void;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');
/** Bytes buffered past an unfinished exchange before the socket is paused (pipelining). */
const HIGH_WATER = 64 * 1024;
/** How long past the advertised keep-alive timeout an idle connection is closed. */
const KEEP_ALIVE_MARGIN = 1000;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What node:http refuses in a header value (response splitting). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const NON_ASCII = /[\x80-\xff]/;

const STATUS_LINE: string[] = [];
function statusLine(status: number): string {
  let line = STATUS_LINE[status];
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    if (status >= 100 && status < 600) STATUS_LINE[status] = line;
  }
  return line;
}

/** Names already checked to be tokens, with their lower case (responses repeat a few names). */
const validNames = new Map<string, string>();
function lowerName(name: string): string {
  const known = validNames.get(name);
  if (known !== undefined) return known;
  if (!TOKEN.test(name)) {
    throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), {
      code: 'ERR_INVALID_HTTP_TOKEN',
    });
  }
  const lower = name.toLowerCase();
  if (validNames.size < 1000) validNames.set(name, lower);
  return lower;
}

function invalidValue(name: string): Error {
  return Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), {
    code: 'ERR_INVALID_CHAR',
  });
}

let dateString = '';
let dateExpires = 0;
function httpDate(now: number): string {
  if (now >= dateExpires) {
    dateString = new Date(now).toUTCString();
    dateExpires = now - (now % 1000) + 1000;
  }
  return dateString;
}

function bodiless(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** A request read by the engine: what the App reads (RawRequest), with its body streamed in. */
export class EngineRequest extends LightEmitter implements RawRequest {
  readonly httpVersion = '1.1';
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
  complete: boolean;
  /** Body bytes still to come from the socket. */
  remaining: number;
  #queued: Buffer[] | null = null;
  #queuedBytes = 0;
  #flowing = false;
  #ended = false;
  readonly #conn: Connection;

  constructor(conn: Connection, head: ParsedHead) {
    super();
    this.#conn = conn;
    this.socket = conn.socket;
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.remaining = head.length;
    this.complete = head.length === 0;
  }

  /** @internal Body bytes from the connection. */
  push(chunk: Buffer): void {
    this.remaining -= chunk.length;
    if (this.remaining === 0) this.complete = true;
    if (this.#flowing && this.#queued === null) this.emit('data', chunk);
    else {
      this.#queue(chunk);
      // Nobody reads yet: stop reading the socket rather than buffer an unbounded body.
      if (this.#queuedBytes > HIGH_WATER && !this.complete) this.#conn.pauseBody();
    }
    if (this.complete) this.#maybeEnd();
  }

  #queue(chunk: Buffer): void {
    if (this.#queued === null) this.#queued = [chunk];
    else this.#queued.push(chunk);
    this.#queuedBytes += chunk.length;
  }

  #maybeEnd(): void {
    if (this.#flowing && this.#queued === null && this.complete && !this.#ended) {
      this.#ended = true;
      this.emit('end');
    }
  }

  pause(): this {
    this.#flowing = false;
    if (!this.complete) this.#conn.pauseBody();
    return this;
  }

  resume(): this {
    this.#flowing = true;
    const queued = this.#queued;
    if (queued !== null) {
      this.#queued = null;
      this.#queuedBytes = 0;
      for (const chunk of queued) {
        if (!this.#flowing) {
          this.#queue(chunk);
          continue;
        }
        this.emit('data', chunk);
      }
    }
    this.#maybeEnd();
    if (this.#flowing && !this.complete) this.#conn.resumeBody();
    return this;
  }

  /** @internal The connection went away before the body was read. */
  abort(): void {
    if (!this.complete) this.emit('aborted');
    this.emit('close');
  }
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
            if (INVALID_VALUE.test(s)) throw invalidValue(name);
            if (ascii && NON_ASCII.test(s)) ascii = false;
            head += `${name}: ${s}\r\n`;
          }
        } else {
          const s = typeof value === 'string' ? value : String(value);
          if (INVALID_VALUE.test(s)) throw invalidValue(name);
          if (ascii && NON_ASCII.test(s)) ascii = false;
          head += `${name}: ${s}\r\n`;
        }
      }
    }
    if (!hasDate) head += `Date: ${httpDate(Date.now())}\r\n`;
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

  #hasConnectionHeader = false;

  /** The head's closing lines: connection management, framing. */
  #finishHead(length: number): string {
    let head = this.#head;
    const keepAlive = this.shouldKeepAlive && !this.#closeAfter && !this.#conn.draining;
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

/** Reading a request head. */
const HEAD = 0;
/** Delivering body bytes to the current request. */
const BODY = 1;
/** Discarding the unread body of a request already answered. */
const DISCARD = 2;

/** One client connection served by the engine. */
export class Connection {
  readonly socket: Socket;
  readonly engine: Http1Engine;
  #state: number = HEAD;
  /** Bytes received and not yet consumed. */
  #buffer: Buffer | null = null;
  /** The exchange in progress (its response is not complete yet). */
  req: EngineRequest | null = null;
  res: EngineResponseImpl | null = null;
  /** The request whose body is being delivered (may outlive its response). */
  #bodyReq: EngineRequest | null = null;
  #discard = 0;
  /** When the current head started arriving (engine clock, ms). */
  headStart: number;
  /** When the connection last became idle. */
  idleSince: number;
  #paused = false;
  #bodyPaused = false;
  #parsing = false;
  closed = false;
  /** Exchanges completed on this connection. */
  served = 0;
  readonly #onData = (chunk: Buffer) => this.#data(chunk);
  readonly #onClose = () => this.#close();

  constructor(engine: Http1Engine, socket: Socket) {
    this.engine = engine;
    this.socket = socket;
    this.headStart = engine.now;
    this.idleSince = engine.now;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', noop);
  }

  get draining(): boolean {
    return this.engine.draining;
  }

  get keepAliveLines(): string {
    return this.engine.keepAliveLines;
  }

  /** Skipping the unread body of a request already answered. */
  get discarding(): boolean {
    return this.#state === DISCARD;
  }

  get idle(): boolean {
    return this.res === null && this.#bodyReq === null && (this.#buffer?.length ?? 0) === 0;
  }

  #data(chunk: Buffer): void {
    if (this.#state === BODY) {
      const req = this.#bodyReq!;
      const n = req.remaining;
      if (chunk.length <= n) {
        req.push(chunk);
        if (req.remaining === 0) this.#bodyDone();
        return;
      }
      req.push(chunk.subarray(0, n));
      this.#bodyDone();
      chunk = chunk.subarray(n);
    } else if (this.#state === DISCARD) {
      if (chunk.length <= this.#discard) {
        this.#discard -= chunk.length;
        if (this.#discard === 0) this.#state = HEAD;
        return;
      }
      chunk = chunk.subarray(this.#discard);
      this.#discard = 0;
      this.#state = HEAD;
    }
    if (this.#buffer === null || this.#buffer.length === 0) {
      this.#buffer = chunk;
      if (this.res === null) this.headStart = this.engine.now;
    } else {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
    }
    if (this.res !== null || this.#state !== HEAD) {
      // A pipelined request waits for the one before it; bound what is buffered meanwhile.
      if (this.#buffer.length > HIGH_WATER) this.#pause();
      return;
    }
    this.#parse();
  }

  #bodyDone(): void {
    this.#bodyReq = null;
    this.#state = HEAD;
    if (this.res === null) this.#parse();
  }

  /** Reads and dispatches the requests buffered, one at a time, while none is in progress. */
  #parse(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    // Pipelined requests answered in this loop go out in one write (corked after the first).
    let corked = false;
    try {
      while (this.res === null && this.#state === HEAD && !this.closed) {
        const buf = this.#buffer;
        if (buf === null || buf.length === 0) {
          this.#resume();
          return;
        }
        const maxHead = this.engine.options.maxHeaderSize;
        const end = buf.indexOf(CRLFCRLF);
        if (end === -1) {
          if (buf.length > maxHead || buf.indexOf(LFLF) !== -1) this.#handOff();
          return;
        }
        if (end + 4 > maxHead) {
          this.#handOff();
          return;
        }
        const head = parseHead(buf.toString('latin1', 0, end));
        if (head === null) {
          this.#handOff();
          return;
        }
        const rest = end + 4 === buf.length ? null : buf.subarray(end + 4);
        this.#buffer = rest;
        this.#dispatch(head);
        if (rest !== null && this.res === null && this.#state === HEAD) {
          this.headStart = this.engine.now;
          if (!corked) {
            corked = true;
            this.socket.cork();
          }
        }
      }
    } finally {
      this.#parsing = false;
      if (corked) this.socket.uncork();
    }
  }

  #dispatch(head: ParsedHead): void {
    const req = new EngineRequest(this, head);
    const res = new EngineResponseImpl(this, req, !head.close);
    this.req = req;
    this.res = res;
    if (head.length > 0) {
      this.#state = BODY;
      this.#bodyReq = req;
      const buf = this.#buffer;
      if (buf !== null) {
        if (buf.length <= head.length) {
          this.#buffer = null;
          req.push(buf);
        } else {
          this.#buffer = buf.subarray(head.length);
          req.push(buf.subarray(0, head.length));
        }
        if (req.remaining === 0) {
          this.#bodyReq = null;
          this.#state = HEAD;
        }
      }
    }
    try {
      this.engine.listener(req, res);
    } catch (err) {
      // The App never throws; a listener that does must not take the process down.
      this.engine.onError(err);
      if (!res.headersSent) {
        res.shouldKeepAlive = false;
        res.writeHead(500, { 'content-length': '0' });
        res.end();
      } else this.socket.destroy();
    }
  }

  /** @internal The response of the current exchange is complete. */
  finish(res: EngineResponseImpl, close: boolean): void {
    if (res !== this.res) return;
    this.res = null;
    this.req = null;
    this.idleSince = this.engine.now;
    this.served++;
    if (close) {
      this.closed = true;
      this.socket.end();
      return;
    }
    const bodyReq = this.#bodyReq;
    if (bodyReq !== null && bodyReq === res.req) {
      // Answered before its body was read: skip the rest of the body, then read on.
      this.#bodyReq = null;
      this.#state = DISCARD;
      this.#discard = bodyReq.remaining;
      bodyReq.remaining = 0;
      const buf = this.#buffer;
      if (buf !== null) {
        if (buf.length <= this.#discard) {
          this.#discard -= buf.length;
          this.#buffer = null;
        } else {
          this.#buffer = buf.subarray(this.#discard);
          this.#discard = 0;
        }
      }
      if (this.#discard === 0) this.#state = HEAD;
      this.#bodyPaused = false;
      this.#resume();
    }
    if (this.#state === HEAD) {
      if (this.#buffer !== null && this.#buffer.length > 0) this.headStart = this.engine.now;
      this.#parse();
    }
  }

  /** @internal The App paused reading the body. */
  pauseBody(): void {
    this.#bodyPaused = true;
    this.#pause();
  }

  /** @internal The App resumed reading the body. */
  resumeBody(): void {
    this.#bodyPaused = false;
    this.#resume();
  }

  #pause(): void {
    if (!this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  #resume(): void {
    if (this.#paused && !this.#bodyPaused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  /** @internal Forwards the socket's next 'drain' to the response that waits for it. */
  waitDrain(res: EngineResponseImpl): void {
    this.socket.once('drain', () => res.emit('drain'));
  }

  /** Gives the connection, with every byte not yet consumed, to node:http. */
  #handOff(): void {
    const buf = this.#buffer;
    this.#buffer = null;
    this.#detach();
    this.engine.handOff(this.socket, buf);
  }

  #detach(): void {
    this.closed = true;
    this.socket.removeListener('data', this.#onData);
    this.socket.removeListener('close', this.#onClose);
    this.socket.removeListener('error', noop);
    this.engine.connections.delete(this);
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  #close(): void {
    this.closed = true;
    this.engine.connections.delete(this);
    const res = this.res;
    const req = this.req;
    this.res = null;
    this.req = null;
    if (req !== null) req.abort();
    if (res !== null) res.abort();
    const bodyReq = this.#bodyReq;
    if (bodyReq !== null && bodyReq !== req) bodyReq.abort();
    this.#bodyReq = null;
  }

  /** Answers 408 and closes (a head or body that took too long). */
  timeout(): void {
    const res = this.res;
    if (res === null || !res.headersSent) {
      this.socket.end(
        'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
    } else this.socket.destroy();
    this.closed = true;
  }
}

function noop(): void {}

/** The engine: connection table, timeouts, hand-off to node:http. */
export class Http1Engine {
  readonly options: EngineOptions;
  readonly listener: EngineListener;
  readonly connections = new Set<Connection>();
  readonly keepAliveLines: string;
  readonly #fallback: Server;
  readonly onError: (err: unknown) => void;
  draining = false;
  /** A clock for timeouts, advanced by the checker (ms). */
  now = Date.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    listener: EngineListener,
    fallback: Server,
    options: EngineOptions,
    onError: (err: unknown) => void = () => {},
  ) {
    this.listener = listener;
    this.#fallback = fallback;
    this.options = options;
    this.onError = onError;
    this.keepAliveLines =
      options.keepAliveTimeout > 0
        ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeout / 1000)}\r\n`
        : 'Connection: keep-alive\r\n';
  }

  /** Starts the timeout checks. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#check(), this.options.checkInterval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Serves a connection. */
  serve(socket: Socket): void {
    socket.setNoDelay(true);
    this.connections.add(new Connection(this, socket));
  }

  /** @internal Gives a connection to node:http, bytes already read first. */
  handOff(socket: Socket, buffered: Buffer | null): void {
    this.#fallback.emit('connection', socket);
    if (buffered !== null && buffered.length > 0) socket.emit('data', buffered);
  }

  /** Exchanges in progress. */
  get inflight(): number {
    let n = 0;
    for (const c of this.connections) if (c.res !== null) n++;
    return n;
  }

  /** Closes the connections with no exchange in progress. */
  closeIdle(): void {
    for (const c of this.connections) {
      if (c.idle) {
        c.closed = true;
        c.socket.destroy();
      }
    }
  }

  /** Closes every connection now. */
  closeAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  #check(): void {
    const now = Date.now();
    this.now = now;
    const { headersTimeout, requestTimeout, keepAliveTimeout } = this.options;
    for (const c of this.connections) {
      if (c.closed) continue;
      if (c.res !== null) {
        if (requestTimeout > 0 && !c.req!.complete && now - c.headStart > requestTimeout) {
          c.timeout();
        }
      } else if (c.discarding) {
        // The rest of an answered request's body, which must still arrive in time.
        if (requestTimeout > 0 && now - c.headStart > requestTimeout) c.timeout();
      } else if (!c.idle || c.served === 0) {
        // A head on its way, or a new connection that has not sent one yet (slowloris).
        if (headersTimeout > 0 && now - c.headStart > headersTimeout) c.timeout();
      } else if (keepAliveTimeout > 0 && now - c.idleSince > keepAliveTimeout + KEEP_ALIVE_MARGIN) {
        // Idle keep-alive: a second past the advertised timeout, like node:http, so a client
        // reusing the connection right at the limit does not race the close.
        c.closed = true;
        c.socket.destroy();
      }
    }
  }
}
