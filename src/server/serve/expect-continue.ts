import type { IncomingMessage, ServerResponse } from 'node:http';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * node:http's `checkContinue` listener for `Expect: 100-continue` (node:http serves it on both
 * engines: the Peregrine engine hands such requests over). node:http would send `100 Continue` at
 * once; RFC 9110 §10.1.1 lets a server answer with the final status instead, and a client must
 * not be told to send a body that will be refused. So `100 Continue` goes out only when something
 * starts reading the body (a `data` or `readable` listener, or `resume()`); a request answered
 * without reading it — 413 from its Content-Length, 401 from middleware, 404 — gets only its
 * answer, and node:http then closes the connection, since the client may still send the body.
 */
export function continueWhenRead(listener: RequestListener): RequestListener {
  return (req, res) => {
    const go = (): void => {
      req.removeListener('newListener', onListener);
      req.removeListener('resume', go);
      if (!res.headersSent && !res.writableEnded) res.writeContinue();
    };
    const onListener = (event: string | symbol): void => {
      if (event === 'data' || event === 'readable') go();
    };
    req.on('newListener', onListener);
    req.once('resume', go);
    listener(req, res);
  };
}
