import type { Socket } from 'node:net';
import type { Http1Engine } from './engine.ts';
import { type ParsedHead, parseHead } from './parse.ts';
import { EngineRequest, HIGH_WATER } from './request.ts';
import { EngineResponseImpl } from './response.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');

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
    this.#parse(true);
  }

  #bodyDone(): void {
    this.#bodyReq = null;
    this.#state = HEAD;
    if (this.res === null) this.#parse(true);
  }

  /**
   * Reads and dispatches the requests buffered, one at a time, while none is in progress.
   * `fromRead`: called from the socket's read callback (the requests' `ownCallback`), rather than
   * from a response that finished inside some request's code.
   */
  #parse(fromRead: boolean): void {
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
        this.#dispatch(head, fromRead);
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

  #dispatch(head: ParsedHead, fromRead: boolean): void {
    const req = new EngineRequest(this, head, fromRead);
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
      this.#parse(false);
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
