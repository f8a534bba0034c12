import { Readable } from 'node:stream';
import { evaluatePreconditions, isConditional, preconditionFailed } from './conditional.ts';
import { HTTPNotAcceptable } from './errors/classes.ts';
import type { HTTPError } from './errors/http-error.ts';
import type { Logger } from './logger.ts';
import type { MediaRegistry } from './media/registry.ts';
import { mediaEssence } from './negotiation.ts';
import type { Request } from './request.ts';
import {
  type BodyStream,
  DATA_BODY,
  MEDIA_BODY,
  type Response,
  STREAM_BODY,
  TEXT_BODY,
} from './response.ts';
import type { RawResponse } from './transport.ts';

/** The problem+json media type of every error response. */
export const PROBLEM_TYPE = 'application/problem+json';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const OCTET_TYPE = 'application/octet-stream';

/** What sending needs from the App. */
export interface SendEnv {
  readonly media: MediaRegistry;
  readonly logger: Logger;
}

/** Statuses that never carry a body. */
export function bodiless(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** Replaces whatever the response held with the problem document of an error. */
export function applyProblem(resp: Response, err: HTTPError): void {
  resp.status = err.status;
  resp.contentType = PROBLEM_TYPE;
  resp.media = err.toProblem();
  resp.etag = undefined;
  resp.lastModified = undefined;
  if (err.headers !== undefined) {
    for (const name of Object.keys(err.headers)) resp.setHeader(name, err.headers[name]!);
  }
}

/** Serialises a media body with the handler for its type, negotiating when no type is set. */
function serializeMedia(
  req: Request,
  resp: Response,
  env: SendEnv,
): { body: string | Uint8Array; type: string } {
  let type = resp.contentType;
  if (type === undefined) {
    type = env.media.negotiate(req.raw.headers.accept);
    if (type === undefined) {
      throw new HTTPNotAcceptable({
        code: 'PRG_NOT_ACCEPTABLE',
        detail: 'No available media type satisfies the Accept header.',
      });
    }
  }
  // PERF: JSON and problem+json skip the registry lookup.
  if (type === 'application/json' || type === PROBLEM_TYPE) {
    return { body: JSON.stringify(resp.body) ?? '', type };
  }
  const essence = mediaEssence(type);
  const handler =
    env.media.get(essence) ??
    (essence.endsWith('+json') ? env.media.get('application/json') : undefined);
  if (handler?.serialize === undefined) {
    throw new TypeError(`no media handler serialises ${type}`);
  }
  return { body: handler.serialize(resp.body), type };
}

function runTasks(resp: Response, logger: Logger): void {
  for (const task of resp.tasks!) {
    try {
      const r = task();
      if (r instanceof Promise)
        r.catch((err: unknown) => logger.error({ err }, 'after-response task failed'));
    } catch (err) {
      logger.error({ err }, 'after-response task failed');
    }
  }
}

/**
 * Writes the response: serialises the body, answers conditional GET/HEAD with 304 or 412, sets
 * Content-Type and Content-Length, omits the body for HEAD and bodiless statuses, streams with
 * back-pressure, and runs after-response tasks once the exchange is over. Returns the status
 * written, or 0 when nothing could be written (headers already sent, connection gone).
 */
export function send(
  req: Request,
  resp: Response,
  out: RawResponse,
  env: SendEnv,
  toProblem: (err: unknown) => HTTPError,
): number {
  // Tasks wait for the exchange to close, then yield once more so they never delay the response.
  if (resp.tasks !== null) out.once('close', () => setImmediate(runTasks, resp, env.logger));
  if (out.headersSent || out.destroyed) return 0;
  let body: string | Uint8Array | undefined;
  let type = resp.contentType;
  switch (resp.bodyKind) {
    case MEDIA_BODY:
      try {
        ({ body, type } = serializeMedia(req, resp, env));
      } catch (err) {
        applyProblem(resp, toProblem(err));
        body = JSON.stringify(resp.body);
        type = PROBLEM_TYPE;
      }
      break;
    case TEXT_BODY:
      body = resp.body as string;
      type ??= TEXT_TYPE;
      break;
    case DATA_BODY:
      body = resp.body as Uint8Array;
      type ??= OCTET_TYPE;
      break;
    case STREAM_BODY:
      type ??= OCTET_TYPE;
      break;
  }
  let status = resp.status;
  const headers = resp.headers ?? {};
  const etag = resp.etag;
  const lastModified = resp.lastModified;
  if (etag !== undefined) headers.etag = etag;
  if (lastModified !== undefined) headers['last-modified'] = lastModified.toUTCString();
  const method = req.method;
  if (
    (etag !== undefined || lastModified !== undefined) &&
    status === 200 &&
    (method === 'GET' || method === 'HEAD') &&
    isConditional(req.raw.headers)
  ) {
    const outcome = evaluatePreconditions(method, req.raw.headers, { etag, lastModified });
    if (outcome === 'not-modified') {
      status = 304;
      body = undefined;
      type = undefined;
      if (resp.bodyKind === STREAM_BODY) destroyStream(resp.body as BodyStream);
    } else if (outcome === 'failed') {
      const err = preconditionFailed();
      applyProblem(resp, err);
      status = err.status;
      body = JSON.stringify(resp.body);
      type = PROBLEM_TYPE;
    }
  }
  if (type !== undefined) headers['content-type'] = type;
  if (resp.bodyKind === STREAM_BODY && status !== 304) {
    out.writeHead(status, headers);
    if (method === 'HEAD' || bodiless(status)) {
      destroyStream(resp.body as BodyStream);
      out.end();
    } else {
      void pump(resp.body as BodyStream, out, env.logger);
    }
    return status;
  }
  if (bodiless(status)) {
    delete headers['content-length'];
    out.writeHead(status, headers);
    out.end();
    return status;
  }
  headers['content-length'] =
    body === undefined
      ? '0'
      : String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  out.writeHead(status, headers);
  if (body === undefined || method === 'HEAD') out.end();
  else out.end(body);
  return status;
}

function destroyStream(stream: BodyStream): void {
  if (stream instanceof Readable) stream.destroy();
}

/** Copies a stream to the response, honouring back-pressure and stopping if the client leaves. */
async function pump(stream: BodyStream, out: RawResponse, logger: Logger): Promise<void> {
  let closed = false;
  out.once('close', () => {
    closed = true;
    destroyStream(stream);
  });
  try {
    for await (const chunk of stream) {
      if (closed) break;
      if (!out.write(chunk as string | Uint8Array)) {
        await new Promise<void>((resolve) => {
          out.once('drain', resolve);
          out.once('close', resolve);
        });
      }
    }
    if (!closed) out.end();
  } catch (err) {
    // Headers are gone already: all we can do is cut the connection so the client sees an error.
    logger.error({ err }, 'response stream failed');
    const destroyable = out as RawResponse & { destroy?: (err?: Error) => void };
    if (typeof destroyable.destroy === 'function') destroyable.destroy();
    else out.end();
  }
}
