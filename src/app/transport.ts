import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * What the App reads of an incoming request. `node:http`'s IncomingMessage satisfies it, and so
 * does the simulated request of `peregrine/testing`: the App itself never touches sockets.
 */
export interface RawRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion?: string;
  readonly socket: { readonly remoteAddress?: string | undefined; readonly encrypted?: boolean };
  readonly complete: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close' | 'aborted', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer) => void): unknown;
  removeListener(event: 'end' | 'close' | 'aborted', listener: () => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  /**
   * True when the transport called the handler from its own I/O callback (a socket read), not
   * from inside another request's code: nothing but the transport runs after the handler
   * returns until that callback ends, and the runtime then restores the async context. State
   * entered for the request (its telemetry context) need not be undone on return.
   */
  readonly ownCallback?: boolean;
}

/** What the App writes of a response. `node:http`'s ServerResponse satisfies it. */
export interface RawResponse {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array | (() => void), cb?: () => void): unknown;
  once(event: 'drain' | 'close' | 'finish', listener: () => void): unknown;
  on(event: 'close' | 'finish', listener: () => void): unknown;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  /** false makes the server answer with `Connection: close` (used while draining). */
  shouldKeepAlive: boolean;
}
