import type { Socket } from 'node:net';
import type { Http1Engine } from './engine.ts';
import { LINGER_BYTES, MALFORMED, TIMED_OUT } from './refusals.ts';
import { DISCARD_LIMIT, EngineRequest, HIGH_WATER } from './request.ts';
import { EngineResponseImpl } from './response.ts';
import { HAND_OFF, HeadScanner, NEED_MORE, type ParsedHead, REFUSE } from './scan.ts';

/*
 * The states of a connection. Every one has a time bound and a byte bound (the engine's check
 * enforces the times, docs/http-engine.md has the table):
 *
 *   HEAD ──head──▶ BODY ──body read──▶ ANSWER ──answered──▶ HEAD or IDLE
 *     │ 400         │ answered early      │ client not reading answers
 *     ▼             ▼                     ▼
 *   CLOSING ◀──── DISCARD ──▶ HEAD      BLOCKED ──drain──▶ HEAD
 *
 * Any state goes to CLOSING when the server ends the connection (Connection: close, 408, 413,
 * drain), and to GONE when the socket closes or is handed to node:http.
 */
/** Keep-alive between exchanges: nothing buffered. Bound: --keep-alive (+1 s), 0 bytes. */
export const IDLE = 0;
/** Reading a head (or a new connection's first). Bound: --headers-timeout, --max-header-size. */
export const HEAD = 1;
/** Reading the body of the request in progress. Bound: --receive-timeout, HIGH_WATER queued. */
export const BODY = 2;
/** The request is read; the App answers. Bound: the App's deadline, HIGH_WATER pipelined. */
export const ANSWER = 3;
/** Skipping the unread body of an answered request. Bound: --receive-timeout, DISCARD_LIMIT. */
export const DISCARD = 4;
/** The client does not read its answers: no more requests are read. Bound: --send-timeout. */
export const BLOCKED = 5;
/** The server ended the connection; input is dropped. Bound: LINGER_MS, LINGER_BYTES. */
export const CLOSING = 6;
/** Closed, or handed to node:http (whose own bounds apply). */
export const GONE = 7;

/** Reasons the socket is paused, as bits. */
const PAUSE_BACKLOG = 1;
const PAUSE_BODY = 2;

/** One client connection served by the engine. */
export class Connection {
  readonly socket: Socket;
  readonly engine: Http1Engine;
  /** One of the states above. */
  state = HEAD;
  readonly #scanner: HeadScanner;
  /** The exchange in progress (its response is not complete yet). */
  req: EngineRequest | null = null;
  res: EngineResponseImpl | null = null;
  /** The request whose body is being delivered (may outlive its response only as DISCARD). */
  #bodyReq: EngineRequest | null = null;
  #discard = 0;
  /**
   * When the head or body being read started to arrive (Date.now()), 0 when nothing is timed.
   * Stamped only when a read ends inside a head or body (or a connection opens), never before
   * the first byte came: so a timeout is never early, and a request read in one go costs no
   * clock read. In CLOSING: when the server ended the connection.
   */
  since: number;
  /** The engine's tick count when the connection last became idle (see Http1Engine). */
  idleTick = 0;
  /** When the connection was seen idle at a check (ms); set by the engine. */
  idleSince = 0;
  /** Bytes sent when the engine last saw the output move, and when (send-timeout). */
  sentMark = -1;
  stallSince = 0;
  /** Unread input (pipelined requests), kept while an exchange is in progress. */
  #pending: Buffer | null = null;
  #pendingAt = 0;
  #queue: Buffer[] | null = null;
  #pendingBytes = 0;
  #pauses = 0;
  #paused = false;
  /** Inside #run: a response finishing now must not start reading input itself. */
  #running = false;
  #corked = false;
  /** Bytes read and dropped since the connection entered CLOSING. */
  #lingered = 0;
  /** The client half-closed its side. */
  #peerEnded = false;
  /** Exchanges completed on this connection. */
  served = 0;
  readonly #onData = (chunk: Buffer) => this.#data(chunk);
  readonly #onEnd = () => this.#end();
  readonly #onClose = () => this.#close();
  readonly #onDrain = () => this.#drained();

  constructor(engine: Http1Engine, socket: Socket) {
    this.engine = engine;
    this.socket = socket;
    this.#scanner = new HeadScanner(engine.options.maxHeaderSize);
    // A new connection's first head is timed from the accept (a client that sends nothing).
    this.since = Date.now();
    // A client's FIN does not end the answers still due (node:http's servers do the same).
    socket.allowHalfOpen = true;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', noop);
  }

  get draining(): boolean {
    return this.engine.draining;
  }

  get keepAliveLines(): string {
    return this.engine.keepAliveLines;
  }

  /** Nothing in progress and nothing buffered (a drain may close it). */
  get idle(): boolean {
    return (
      this.state === IDLE ||
      (this.state === HEAD && !this.#scanner.started && this.#scanner.pending === 0)
    );
  }

  #data(chunk: Buffer): void {
    switch (this.state) {
      case CLOSING:
        // PERF: nothing is kept; the client's data is only counted until the linger ends.
        this.#lingered += chunk.length;
        if (this.#lingered > LINGER_BYTES) this.socket.destroy();
        return;
      case ANSWER:
      case BLOCKED:
        this.#keep(chunk, 0);
        return;
      case IDLE:
        this.state = HEAD;
        break;
      case GONE:
        return;
    }
    if (this.#pending !== null) {
      this.#keep(chunk, 0);
      this.#pump();
      return;
    }
    this.#running = true;
    let at: number;
    try {
      at = this.#run(chunk, 0, true);
    } finally {
      this.#running = false;
      this.#uncork();
    }
    if (at < chunk.length) {
      if (this.state === ANSWER || this.state === BLOCKED) this.#keep(chunk, at);
      else if (this.state === CLOSING) this.#lingered += chunk.length - at;
    }
    this.#settle();
  }

  /**
   * Reads requests from `chunk` at `at` for as long as the state lets input be read; returns
   * where it stopped. `fromRead`: called from the socket's read callback (the requests'
   * `ownCallback`), not from a response that finished inside some request's code.
   */
  #run(chunk: Buffer, at: number, fromRead: boolean): number {
    const n = chunk.length;
    let answered = false;
    while (at < n) {
      switch (this.state) {
        case IDLE:
          this.state = HEAD;
          break;
        case HEAD: {
          if (answered) {
            // Pipelined requests answered in this loop go out in one write.
            if (this.socket.writableLength > HIGH_WATER) {
              // The client does not read its answers: read no more requests until it does.
              this.state = BLOCKED;
              this.socket.once('drain', this.#onDrain);
              return at;
            }
            if (!this.#corked) {
              this.#corked = true;
              this.socket.cork();
            }
          }
          const scanner = this.#scanner;
          const end = scanner.scan(chunk, at);
          if (end === NEED_MORE) return n;
          if (end === REFUSE) {
            this.#refuse();
            return n;
          }
          if (end === HAND_OFF) {
            this.#handOff(chunk);
            return n;
          }
          const head = scanner.head(chunk, end);
          if (head === null) {
            this.#handOff(chunk);
            return n;
          }
          at = this.#dispatch(head, chunk, end, fromRead);
          answered = true;
          break;
        }
        case BODY:
          at = this.#body(chunk, at);
          break;
        case DISCARD: {
          const skip = Math.min(this.#discard, n - at);
          this.#discard -= skip;
          at += skip;
          if (this.#discard === 0) {
            this.state = HEAD;
            this.since = 0;
          }
          break;
        }
        default:
          return at;
      }
    }
    return at;
  }

  /** Starts an exchange; the body bytes already read go to the request first. */
  #dispatch(head: ParsedHead, chunk: Buffer, at: number, fromRead: boolean): number {
    const req = new EngineRequest(this, head, fromRead);
    const res = new EngineResponseImpl(this, req, !head.close);
    this.req = req;
    this.res = res;
    if (head.length > 0) {
      this.state = BODY;
      this.#bodyReq = req;
      if (at < chunk.length) at = this.#body(chunk, at);
    } else {
      this.state = ANSWER;
      this.since = 0;
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
    return at;
  }

  /** Delivers body bytes from `chunk` at `at`; returns where the body (or the chunk) ends. */
  #body(chunk: Buffer, at: number): number {
    const req = this.#bodyReq!;
    const take = Math.min(req.remaining, chunk.length - at);
    req.push(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
    if (req.remaining === 0 && this.#bodyReq === req) {
      this.#bodyReq = null;
      this.since = 0;
      if (this.state === BODY) this.state = this.res !== null ? ANSWER : HEAD;
      this.#setPause(PAUSE_BODY, false);
    }
    return at + take;
  }

  /** Keeps unread input for when the exchange in progress is over. */
  #keep(chunk: Buffer, at: number): void {
    if (this.#pending === null) {
      this.#pending = chunk;
      this.#pendingAt = at;
    } else {
      this.#queue ??= [];
      this.#queue.push(at === 0 ? chunk : chunk.subarray(at));
    }
    this.#pendingBytes += chunk.length - at;
    // A pipelined request waits for the one before it; bound what is buffered meanwhile.
    if (this.#pendingBytes > HIGH_WATER) this.#setPause(PAUSE_BACKLOG, true);
  }

  /** Reads the input kept while an exchange was in progress, as far as the state allows. */
  #pump(): void {
    this.#running = true;
    try {
      while (this.#pending !== null) {
        const s = this.state;
        if (s !== HEAD && s !== IDLE && s !== BODY && s !== DISCARD) break;
        if (s !== BODY && s !== DISCARD && this.socket.writableLength > HIGH_WATER) {
          this.state = BLOCKED;
          this.socket.once('drain', this.#onDrain);
          break;
        }
        const chunk = this.#pending;
        const at = this.#pendingAt;
        const stop = this.#run(chunk, at, false);
        // Ended or handed off: the input kept was dropped or went along.
        if (this.state === GONE || this.state === CLOSING) break;
        this.#pendingBytes -= stop - at;
        if (stop < chunk.length) {
          this.#pendingAt = stop;
          break;
        }
        const queue = this.#queue;
        if (queue !== null && queue.length > 0) {
          this.#pending = queue.shift()!;
          if (queue.length === 0) this.#queue = null;
        } else this.#pending = null;
        this.#pendingAt = 0;
      }
    } finally {
      this.#running = false;
      this.#uncork();
    }
    this.#settle();
  }

  /** After input was read: timers, the idle state, flow control. */
  #settle(): void {
    const state = this.state;
    if (state === HEAD) {
      const scanner = this.#scanner;
      if (scanner.started || scanner.pending > 0) {
        if (this.since === 0) this.since = Date.now();
      } else if (this.served > 0 && this.#pending === null) {
        this.state = IDLE;
        this.idleTick = this.engine.ticks;
        this.since = 0;
      }
    } else if ((state === BODY || state === DISCARD) && this.since === 0) {
      this.since = Date.now();
    }
    if (this.#pendingBytes <= HIGH_WATER) this.#setPause(PAUSE_BACKLOG, false);
  }

  #uncork(): void {
    if (this.#corked) {
      this.#corked = false;
      this.socket.uncork();
    }
  }

  /** @internal The response of the current exchange is complete. */
  finish(res: EngineResponseImpl, close: boolean): void {
    if (res !== this.res) return;
    this.res = null;
    this.req = null;
    this.served++;
    const body = this.#bodyReq;
    if (close || (body !== null && body.remaining > DISCARD_LIMIT)) {
      this.#closeWith(null);
      return;
    }
    if (body !== null) {
      this.#bodyReq = null;
      this.#setPause(PAUSE_BODY, false);
      if (body.remaining > 0) {
        // Answered before its body was read: skip the rest of the body, then read on.
        this.#discard = body.remaining;
        body.remaining = 0;
        this.state = DISCARD;
      } else {
        this.state = HEAD;
        this.since = 0;
      }
    } else if (this.state === ANSWER) {
      this.state = HEAD;
    }
    if (!this.#running) this.#pump();
  }

  #drained(): void {
    if (this.state !== BLOCKED) return;
    this.state = HEAD;
    this.#pump();
  }

  /** @internal The App paused reading the body. */
  pauseBody(): void {
    if (this.state === BODY) this.#setPause(PAUSE_BODY, true);
  }

  /** @internal The App resumed reading the body. */
  resumeBody(): void {
    this.#setPause(PAUSE_BODY, false);
  }

  #setPause(reason: number, on: boolean): void {
    this.#pauses = on ? this.#pauses | reason : this.#pauses & ~reason;
    const pause = this.#pauses !== 0;
    if (pause === this.#paused) return;
    this.#paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** @internal Forwards the socket's next 'drain' to the response that waits for it. */
  waitDrain(res: EngineResponseImpl): void {
    this.socket.once('drain', () => res.emit('drain'));
  }

  /** A head no valid request can have: 400, then close. */
  #refuse(): void {
    this.engine.onRefused(this.socket);
    this.#closeWith(MALFORMED);
  }

  /** Answers 408 and closes (a head or body that took too long). */
  timeout(): void {
    const res = this.res;
    if (res?.headersSent) {
      this.socket.destroy();
      return;
    }
    this.#abortExchange();
    this.#closeWith(TIMED_OUT);
  }

  /**
   * Ends the connection (after `answer`, when given): nothing more is read into memory, the
   * client's further bytes are dropped, and the engine destroys the socket after the linger.
   */
  #closeWith(answer: Buffer | null): void {
    if (this.state === CLOSING || this.state === GONE) return;
    this.state = CLOSING;
    this.since = Date.now();
    this.#scanner.reset();
    this.#pending = null;
    this.#queue = null;
    this.#pendingBytes = 0;
    const body = this.#bodyReq;
    this.#bodyReq = null;
    if (body !== null && body !== this.req) body.abort();
    this.#uncork();
    if (answer === null) this.socket.end();
    else this.socket.end(answer);
    // Keep reading, to see the client's FIN or reset (a paused socket would hold its descriptor).
    this.#pauses = 0;
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
    if (this.#peerEnded) destroySoon(this.socket);
  }

  /** Aborts the exchange in progress (the client will not get its answer). */
  #abortExchange(): void {
    const res = this.res;
    const req = this.req;
    this.res = null;
    this.req = null;
    if (req !== null) req.abort();
    if (res !== null) res.abort();
  }

  /**
   * The client's FIN. Like node:http (whose servers do not allow half-open connections): a head
   * or body cut short is refused with 400 unless its answer has begun, an exchange in progress is
   * aborted (the App's request signal fires), and the connection ends.
   */
  #end(): void {
    this.#peerEnded = true;
    switch (this.state) {
      case CLOSING:
        destroySoon(this.socket);
        return;
      case HEAD:
        this.#closeWith(this.#scanner.started ? MALFORMED : null);
        return;
      case BODY: {
        const res = this.res;
        this.#abortExchange();
        if (res?.headersSent) this.socket.destroy();
        else this.#closeWith(MALFORMED);
        return;
      }
      default:
        this.#abortExchange();
        this.#closeWith(null);
    }
  }

  /** Gives the connection, with every byte not yet consumed, to node:http. */
  #handOff(chunk: Buffer): void {
    let bytes = this.#scanner.handOffBytes(chunk, this.#scanner.from);
    // Input kept behind the chunk being read (pipelined) goes too, in order.
    const queue = this.#pending === chunk ? this.#queue : null;
    if (queue !== null && queue.length > 0) {
      bytes = Buffer.concat(bytes === null ? queue : [bytes, ...queue]);
    }
    this.#pending = null;
    this.#queue = null;
    this.#pendingBytes = 0;
    this.#uncork();
    this.#detach();
    this.engine.handOff(this.socket, bytes);
  }

  #detach(): void {
    this.state = GONE;
    this.socket.removeListener('data', this.#onData);
    this.socket.removeListener('end', this.#onEnd);
    this.socket.removeListener('close', this.#onClose);
    this.socket.removeListener('error', noop);
    this.socket.removeListener('drain', this.#onDrain);
    this.engine.connections.delete(this);
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  #close(): void {
    this.state = GONE;
    this.engine.connections.delete(this);
    this.#pending = null;
    this.#queue = null;
    const body = this.#bodyReq;
    this.#bodyReq = null;
    this.#abortExchange();
    if (body !== null && body.remaining > 0) body.abort();
  }
}

function noop(): void {}

/** Destroys the socket once what was written to it is flushed. */
function destroySoon(socket: Socket): void {
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}
