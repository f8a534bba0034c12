import { connect, type Socket } from 'node:net';

/**
 * A client connection that sees the raw bytes a server sends (interim responses and status
 * lines included) and waits on events, never on sleeps.
 */
export class RawSocket {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  text = '';
  /** The server ended or closed the connection. */
  closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      this.#wake();
    });
    socket.on('error', () => {});
    const done = () => {
      this.closed = true;
      this.#wake();
    };
    socket.on('end', done);
    socket.on('close', done);
  }

  /** Connects to 127.0.0.1:port. */
  static open(port: number): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RawSocket(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes bytes. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves once `done()` holds, or the connection closed, or `ms` passed; returns `done()`. */
  async until(done: (text: string) => boolean, ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done(this.text) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return done(this.text);
  }

  /** Whether the server closes the connection within `ms`. */
  async closedWithin(ms = 3000): Promise<boolean> {
    await this.until(() => this.closed, ms);
    return this.closed;
  }

  /** Closes the connection. */
  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
