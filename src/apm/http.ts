/**
 * The HTTP pieces both of `peregrine apm`'s listeners use: problem+json answers, JSON answers,
 * and reading a bounded (and possibly gzipped) request body.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzip } from 'node:zlib';

/** An answer other than 200: thrown by handlers, written as problem+json by the server. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
};

export function problem(
  res: ServerResponse,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
  });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * How many bytes past the limit are read and thrown away before a 413 is answered. A sender
 * still uploading when the server answers and closes gets a reset instead of the 413 (and an
 * OTLP exporter retries a reset forever), so a body up to this much too large is drained first
 * and answered on a connection that stays open; a larger one is answered at once and closed.
 */
const DRAIN_PAST_LIMIT = 64 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (close: boolean) =>
      new HttpProblem(
        413,
        `the body is larger than ${limit} bytes`,
        close ? { connection: 'close' } : undefined,
      );
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit + DRAIN_PAST_LIMIT) {
      reject(tooLarge(true));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over || size > limit) {
        if (!over) chunks.length = 0;
        over = true;
        if (size > limit + DRAIN_PAST_LIMIT) {
          req.removeAllListeners('data');
          req.resume();
          reject(tooLarge(true));
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) reject(tooLarge(false));
      else resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

export function inflate(body: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: limit }, (err, out) => {
      if (err === null) resolve(out);
      else if (
        err instanceof RangeError ||
        (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
      )
        reject(new HttpProblem(413, `the body inflates past ${limit} bytes`));
      else reject(new HttpProblem(400, `cannot gunzip the body: ${err.message}`));
    });
  });
}
