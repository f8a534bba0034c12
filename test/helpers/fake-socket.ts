import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/**
 * The parts of a net.Socket the HTTP/1.1 engine uses, in memory: a test feeds reads with
 * `emit('data', chunk)` and finds what the engine wrote in `output`.
 */
export class FakeSocket extends EventEmitter {
  readonly output: Buffer[] = [];
  writableLength = 0;
  bytesWritten = 0;
  writableFinished = false;
  remoteAddress = '127.0.0.1';
  allowHalfOpen = false;
  destroyed = false;
  paused = false;
  ended = false;

  setNoDelay(): this {
    return this;
  }

  write(data: string | Uint8Array, encoding?: BufferEncoding): boolean {
    const bytes =
      typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.from(data);
    this.output.push(bytes);
    this.bytesWritten += bytes.length;
    return true;
  }

  cork(): void {}

  uncork(): void {}

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    return this;
  }

  end(data?: string | Uint8Array): this {
    if (data !== undefined) this.write(data, 'latin1');
    this.ended = true;
    this.writableFinished = true;
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.emit('close');
    return this;
  }

  /** Everything written so far, as latin1 text. */
  text(): string {
    return Buffer.concat(this.output).toString('latin1');
  }

  /** This object where the engine wants a socket. */
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}
