import { HTTPBadRequest, HTTPContentTooLarge, HTTPUnsupportedMediaType } from './errors/classes.ts';
import type { HTTPError } from './errors/http-error.ts';
import type { RawRequest } from './transport.ts';

/** 413 that also closes the connection, so the unread rest of the body is never parsed. */
export function bodyTooLarge(limit: number): HTTPError {
  return new HTTPContentTooLarge({
    code: 'PRG_BODY_TOO_LARGE',
    detail: `The request body exceeds the limit of ${limit} bytes.`,
    extensions: { limit },
    headers: { connection: 'close' },
  });
}

/** Whether the request announces a body (a Content-Length above 0 or chunked encoding). */
export function hasBody(raw: RawRequest): boolean {
  const length = raw.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return raw.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads the whole body, failing with 413 as soon as it is known to exceed `limit`: at once from
 * Content-Length, else when the running total passes it. Nothing past the limit is buffered.
 */
export function readBody(raw: RawRequest, limit: number): Promise<Buffer> {
  const encoding = raw.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return Promise.reject(
      new HTTPUnsupportedMediaType({
        code: 'PRG_CONTENT_ENCODING_UNSUPPORTED',
        detail: `Content-Encoding "${encoding}" is not supported.`,
      }),
    );
  }
  const declared = raw.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (n > limit) return Promise.reject(bodyTooLarge(limit));
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      raw.removeListener('data', onData);
      raw.removeListener('end', onEnd);
      raw.removeListener('error', onError);
      raw.removeListener('aborted', onAborted);
      raw.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        raw.pause();
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(
        new HTTPBadRequest({
          code: 'PRG_BODY_INCOMPLETE',
          detail: 'The request body could not be read.',
          cause: err,
        }),
      );
    };
    const onAborted = () => {
      cleanup();
      reject(
        new HTTPBadRequest({
          code: 'PRG_BODY_INCOMPLETE',
          detail: 'The client stopped sending before the body ended.',
        }),
      );
    };
    const onClose = () => {
      if (!raw.complete) onAborted();
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('aborted', onAborted);
    raw.on('close', onClose);
    raw.resume();
  });
}
