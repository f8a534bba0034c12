import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { STATUS_PHRASES } from '../app/errors/status.ts';

// PERF: builtins through process.getBuiltinModule, not an ESM import: the ESM facade of
// node:http reads every export, which loads Node's bundled undici (~14 MiB, ~80 ms per process).
const { ServerResponse, STATUS_CODES } = process.getBuiltinModule('node:http');

/**
 * The reason phrases where node:http's table is older than RFC 9110 (413 "Payload Too Large",
 * 422 "Unprocessable Entity"): the status line must say what the problem+json title says.
 */
const REVISED: ReadonlyMap<number, string> = new Map(
  Object.entries(STATUS_PHRASES)
    .filter(([code, phrase]) => STATUS_CODES[code] !== undefined && STATUS_CODES[code] !== phrase)
    .map(([code, phrase]) => [Number(code), phrase]),
);

/** The reason phrase a status line carries: RFC 9110's, else node:http's, else `unknown`. */
export function reasonPhrase(status: number): string {
  return STATUS_PHRASES[status] ?? STATUS_CODES[status] ?? 'unknown';
}

/**
 * node:http's ServerResponse with RFC 9110's reason phrases (pass it as the `ServerResponse`
 * option of `createServer`). A phrase given explicitly is kept.
 */
export class Rfc9110Response<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  override writeHead(
    statusCode: number,
    reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    if (typeof reason !== 'string' && !this.statusMessage) {
      // PERF: one Map lookup; only 413 and 422 differ today.
      const phrase = REVISED.get(statusCode);
      if (phrase !== undefined) return super.writeHead(statusCode, phrase, reason);
    }
    return typeof reason === 'string'
      ? super.writeHead(statusCode, reason, headers)
      : super.writeHead(statusCode, reason);
  }
}
