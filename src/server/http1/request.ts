import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { RawRequest } from '../../app/transport.ts';
import type { Connection } from './connection.ts';
import { LightEmitter } from './emitter.ts';
import type { ParsedHead } from './scan.ts';

/** Bytes buffered (a body nobody reads yet, pipelined requests) before the socket is paused. */
export const HIGH_WATER = 64 * 1024;

/**
 * Unread body above which an answer closes the connection rather than read and drop the rest
 * (Go's net/http draws the same line at 256 KiB).
 */
export const DISCARD_LIMIT = 256 * 1024;

/** A request read by the engine: what the App reads (RawRequest), with its body streamed in. */
export class EngineRequest extends LightEmitter implements RawRequest {
  readonly httpVersion = '1.1';
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
  /** Dispatched from the socket's read callback, not from a finished response (RawRequest). */
  readonly ownCallback: boolean;
  complete: boolean;
  /** Body bytes still to come from the socket. */
  remaining: number;
  #queued: Buffer[] | null = null;
  #queuedBytes = 0;
  #flowing = false;
  #ended = false;
  #aborted = false;
  readonly #conn: Connection;

  constructor(conn: Connection, head: ParsedHead, ownCallback: boolean) {
    super();
    this.#conn = conn;
    this.socket = conn.socket;
    this.ownCallback = ownCallback;
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
    if (this.#aborted) return;
    this.#aborted = true;
    if (!this.complete) this.emit('aborted');
    this.emit('close');
  }
}
