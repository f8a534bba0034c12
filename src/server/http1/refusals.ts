import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  HTTPBadRequest,
  HTTPContentTooLarge,
  HTTPRequestHeaderFieldsTooLarge,
  HTTPRequestTimeout,
} from '../../app/errors/classes.ts';
import type { ErrorCode } from '../../app/errors/codes.ts';
import type { HTTPError } from '../../app/errors/http-error.ts';

/**
 * The answers the HTTP layer gives on its own, before any App sees a request: a malformed head
 * (400), a head or body too slow (408), a head too large (431). Problem+json like every other
 * error of Peregrine, with `Connection: close`, built once. The engine writes them itself, and
 * node:http's `clientError` handler (`answerClientError`) writes the same bytes, so a client sees
 * one answer whichever parser refused.
 */
function canned(
  ErrorClass: new (options: { code: ErrorCode; detail: string }) => HTTPError,
  code: ErrorCode,
  detail: string,
): Buffer {
  const error = new ErrorClass({ code, detail });
  const body = JSON.stringify(error.toProblem());
  return Buffer.from(
    `HTTP/1.1 ${error.status} ${error.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    'latin1',
  );
}

/** 400: a byte no valid request head can have where it is; the connection closes. */
export const MALFORMED = canned(
  HTTPBadRequest,
  'PRG_REQUEST_MALFORMED',
  'The request is not valid HTTP/1.1; the connection closes.',
);
/** 408: a head or body did not arrive within its time limit; the connection closes. */
export const TIMED_OUT = canned(
  HTTPRequestTimeout,
  'PRG_REQUEST_TIMEOUT',
  'The request did not arrive in time; the connection closes.',
);
/** 431: a head over --max-header-size; the connection closes. */
export const HEAD_TOO_LARGE = canned(
  HTTPRequestHeaderFieldsTooLarge,
  'PRG_HEADERS_TOO_LARGE',
  'The request head is larger than the server allows; the connection closes.',
);
/** 413: chunk extensions over node:http's limit; the connection closes. */
const EXTENSIONS_TOO_LARGE = canned(
  HTTPContentTooLarge,
  'PRG_BODY_TOO_LARGE',
  'The chunk extensions of the body are larger than the server allows; the connection closes.',
);

/**
 * How long a connection the server has ended stays open to read (and drop) what the client still
 * sends, so that a reset does not destroy the answer before the client reads it (ms).
 */
export const LINGER_MS = 2000;
/** How much a client may still send to an ended connection before it is destroyed at once. */
export const LINGER_BYTES = 256 * 1024;

const kRefused = Symbol('peregrine.refused');
type HttpSocket = Socket & {
  [kRefused]?: number;
  /** node:http's response in progress on this socket (internal, stable since Node 0.x). */
  _httpMessage?: ServerResponse | null;
  /** node:http's parser of this socket, and the request it is reading (internal). */
  parser?: { incoming?: { complete: boolean } | null } | null;
};

/**
 * node:http's `clientError` listener (on the node:http server of both engines). node:http's own
 * default answers nothing when a response is attached to the socket whose head was already
 * written, and destroys the socket at once otherwise, so a 400 for a malformed request pipelined
 * behind answered ones is never sent, or the answers before it are lost. Here:
 *
 * - an error inside the request being read (its head or body), or a timeout: the canned answer
 *   unless that request's response has begun, as node:http does;
 * - an error after requests that are complete: their answers first, then the canned answer;
 * - data after `Connection: close`: nothing more is read or answered;
 *
 * then the connection ends and is destroyed after LINGER_MS (or once the client sends more than
 * LINGER_BYTES meanwhile: node:http calls this again for every read after a parse error).
 */
export function answerClientError(err: Error & { code?: string }, duplex: Duplex): void {
  const socket = duplex as HttpSocket;
  const first = socket[kRefused];
  if (first !== undefined) {
    if (socket.bytesRead - first > LINGER_BYTES) socket.destroy();
    return;
  }
  socket[kRefused] = socket.bytesRead;
  const code = err.code;
  if (!socket.writable || code === 'ECONNRESET' || code === 'EPIPE') {
    socket.destroy();
    return;
  }
  const res = socket._httpMessage ?? null;
  if (code === 'HPE_CLOSED_CONNECTION') {
    // node:http ends the connection after the answer in progress (it was the last one).
    if (res === null) socket.destroy();
    return;
  }
  const answer =
    code === 'HPE_HEADER_OVERFLOW'
      ? HEAD_TOO_LARGE
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? TIMED_OUT
        : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? EXTENSIONS_TOO_LARGE
          : MALFORMED;
  const incoming = socket.parser?.incoming ?? null;
  const reading = incoming !== null && !incoming.complete;
  if (res === null || reading || code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    if (res === null || !res.headersSent) endWith(socket, answer);
    else socket.destroy();
    return;
  }
  // Requests already read are still being answered: the refusal goes after their answers.
  const next = (): void => {
    const pending = socket._httpMessage ?? null;
    if (socket.destroyed || !socket.writable) return;
    if (pending === null) endWith(socket, answer);
    else pending.once('finish', next);
  };
  res.once('finish', next);
}

function endWith(socket: Socket, answer: Buffer): void {
  socket.end(answer);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
