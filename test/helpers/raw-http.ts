/**
 * A raw HTTP/1.1 client for tests that must see the bytes: it writes requests as given and parses
 * the responses itself (Content-Length, chunked, or until close), so framing, connection handling
 * and error statuses are observed exactly as a client sees them.
 */
import { connect, type Socket } from 'node:net';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One response as the client parsed it. */
export interface RawResponse {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  status: number;
  /** Lowercased names; repeated fields joined with ', '. */
  headers: Map<string, string>;
  /** Every header line, lowercased name first, in order. */
  fields: [string, string][];
  body: Buffer;
  /** Whether the body came with chunked transfer-coding. */
  chunked: boolean;
  /** The status line and header lines as sent. */
  head: string;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** A client connection: raw bytes out, parsed responses in. */
export class RawConnection {
  readonly socket: Socket;
  readonly responses: RawResponse[] = [];
  /** Indices of the responses that answer a HEAD request (they never carry a body). */
  readonly heads = new Set<number>();
  /** The server ended or closed the connection. */
  ended = false;
  /** Set when the bytes received are not a well-formed HTTP/1.x response stream. */
  parseError: string | undefined;
  /** The socket closed (the server destroyed it, or both sides ended). */
  closed = false;
  /** The first socket error (EPIPE, ECONNRESET: the server stopped reading and reset). */
  error: string | undefined;
  /** Everything received, as latin1 text (for diagnostics). */
  received = '';
  #buf: Buffer = Buffer.alloc(0);
  #wake: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received += d.toString('latin1');
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      this.#parse();
      this.#notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
    });
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
    const done = () => {
      if (this.ended) return;
      this.ended = true;
      this.#parse();
      this.#notify();
    };
    socket.on('end', done);
    socket.on('close', done);
  }

  /**
   * Connects. `allowHalfOpen`: the client's side stays open after the server's FIN, so it can
   * keep sending (a client that ignores the server's close).
   */
  static open(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        allowHalfOpen: options.allowHalfOpen === true,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timed out'));
      }, 2000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Writes each part in turn; a number waits that many milliseconds between parts. */
  async send(...parts: (string | Buffer | number)[]): Promise<void> {
    for (const part of parts) {
      if (typeof part === 'number') await sleep(part);
      else if (!this.socket.destroyed) this.socket.write(part);
    }
  }

  /** Waits until `n` responses have been parsed, the server closes, or `ms` pass. */
  async waitFor(n: number, ms = 3000): Promise<RawResponse[]> {
    await this.#until(() => this.responses.length >= n || this.ended, ms);
    return this.responses;
  }

  /** Waits until `cond` holds (checked whenever something arrives) or `ms` pass. */
  async until(cond: () => boolean, ms: number): Promise<boolean> {
    await this.#until(cond, ms);
    return cond();
  }

  /** Whether the server closes the connection within `ms`. */
  async closedWithin(ms = 2000): Promise<boolean> {
    await this.#until(() => this.ended, ms);
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }

  async #until(cond: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #parse(): void {
    while (this.parseError === undefined && this.#buf.length > 0) {
      const buf = this.#buf;
      const headEnd = buf.indexOf(HEAD_END);
      if (headEnd < 0) {
        if (this.ended)
          this.parseError = `incomplete head: ${JSON.stringify(buf.toString('latin1'))}`;
        return;
      }
      const head = buf.subarray(0, headEnd).toString('latin1');
      const lines = head.split('\r\n');
      const m = /^(HTTP\/1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
      if (m === null) {
        this.parseError = `bad status line: ${JSON.stringify(lines[0])}`;
        return;
      }
      const headers = new Map<string, string>();
      const fields: [string, string][] = [];
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) {
          this.parseError = `bad header line: ${JSON.stringify(line)}`;
          return;
        }
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        fields.push([name, value]);
        const prev = headers.get(name);
        headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
      }
      const status = Number(m[2]);
      const start = headEnd + 4;
      const te = headers.get('transfer-encoding');
      const cl = headers.get('content-length');
      let body: Buffer;
      let end: number;
      let chunked = false;
      if (
        this.heads.has(this.responses.length) ||
        status === 204 ||
        status === 304 ||
        (status >= 100 && status < 200)
      ) {
        body = Buffer.alloc(0);
        end = start;
      } else if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) {
        chunked = true;
        const parts: Buffer[] = [];
        let pos = start;
        let complete = false;
        for (;;) {
          const lineEnd = buf.indexOf(CRLF, pos);
          if (lineEnd < 0) break;
          const sizeText = buf.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim();
          if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
            this.parseError = `bad chunk size: ${JSON.stringify(sizeText)}`;
            return;
          }
          const size = Number.parseInt(sizeText, 16);
          if (size === 0) {
            // Trailer fields, then an empty line.
            let t = lineEnd + 2;
            for (;;) {
              const e = buf.indexOf(CRLF, t);
              if (e < 0) break;
              if (e === t) {
                complete = true;
                pos = e + 2;
                break;
              }
              t = e + 2;
            }
            break;
          }
          if (buf.length < lineEnd + 2 + size + 2) break;
          parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
          if (!buf.subarray(lineEnd + 2 + size, lineEnd + 4 + size).equals(CRLF)) {
            this.parseError = 'chunk not followed by CRLF';
            return;
          }
          pos = lineEnd + 4 + size;
        }
        if (!complete) {
          if (this.ended) this.parseError = 'incomplete chunked body';
          return;
        }
        body = Buffer.concat(parts);
        end = pos;
      } else if (cl !== undefined) {
        if (!/^\d+$/.test(cl)) {
          this.parseError = `bad content-length: ${cl}`;
          return;
        }
        const n = Number(cl);
        if (buf.length < start + n) {
          if (this.ended) this.parseError = 'incomplete body';
          return;
        }
        body = buf.subarray(start, start + n);
        end = start + n;
      } else {
        // Delimited by the end of the connection.
        if (!this.ended) return;
        body = buf.subarray(start);
        end = buf.length;
      }
      this.#buf = buf.subarray(end);
      // Interim responses (100 Continue) are not answers.
      if (status >= 100 && status < 200) continue;
      this.responses.push({
        version: m[1]!,
        status,
        headers,
        fields,
        body: Buffer.from(body),
        chunked,
        head,
      });
    }
  }
}

/** Opens a connection, sends the parts, waits for `n` responses (bounded). */
export async function exchange(
  port: number,
  parts: (string | Buffer | number)[],
  n = 1,
  ms = 3000,
): Promise<RawConnection> {
  const conn = await RawConnection.open(port);
  await conn.send(...parts);
  await conn.waitFor(n, ms);
  return conn;
}

/** A minimal GET head. */
export function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}

/** The tokens of a response's Connection header, lower-cased. */
export function connectionTokens(r: RawResponse): string[] {
  return (r.headers.get('connection') ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** What a connection received, for assertion messages. */
export function describeConn(conn: RawConnection): string {
  return `received ${JSON.stringify(conn.received.slice(0, 600))}${
    conn.parseError === undefined ? '' : ` (parse error: ${conn.parseError})`
  }`;
}
