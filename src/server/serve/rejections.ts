import { HTTPServiceUnavailable } from '../../app/errors/classes.ts';
import type { RawResponse } from '../../app/transport.ts';

interface Canned {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

function canned(code: string, detail: string): Canned {
  const problem = new HTTPServiceUnavailable({ code, detail, retryAfter: 1 }).toProblem();
  const body = Buffer.from(JSON.stringify(problem));
  return {
    body,
    headers: {
      'content-type': 'application/problem+json',
      'content-length': String(body.length),
      'retry-after': '1',
      'cache-control': 'no-store',
    },
  };
}

// PERF: built once; a shed request costs a writeHead and one write, no App, no serialisation.
const OVERLOADED = canned(
  'PRG_OVERLOADED',
  'The server is overloaded and did not process this request; retry after the given delay.',
);
const TOO_MANY_CONNECTIONS = canned(
  'PRG_TOO_MANY_CONNECTIONS',
  'The server is at its connection limit; this connection closes. Retry on a new one.',
);

/** Answers a request the worker sheds: 503, `Retry-After: 1`, problem+json. */
export function rejectOverloaded(res: RawResponse): void {
  res.writeHead(503, OVERLOADED.headers);
  res.end(OVERLOADED.body);
}

/** Answers a request on a connection over the cap: 503 and `Connection: close`. */
export function rejectOverCap(res: RawResponse): void {
  res.shouldKeepAlive = false;
  res.writeHead(503, TOO_MANY_CONNECTIONS.headers);
  res.end(TOO_MANY_CONNECTIONS.body);
}
