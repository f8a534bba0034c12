import { createRequire } from 'node:module';
import type busboy from 'busboy';
import { HTTPBadRequest, HTTPContentTooLarge } from '../errors/classes.ts';
import type { HTTPError } from '../errors/http-error.ts';
import type { MediaHandler, ParseContext } from './handler.ts';

/** An uploaded file of a multipart form, held in memory (the body limit bounds it). */
export interface UploadedFile {
  readonly field: string;
  readonly filename: string;
  readonly mimeType: string;
  readonly data: Buffer;
}

/** A parsed `multipart/form-data` body. */
export interface MultipartForm {
  readonly fields: Record<string, string | string[]>;
  readonly files: UploadedFile[];
}

function limitError(detail: string): HTTPError {
  return new HTTPContentTooLarge({ code: 'PRG_MULTIPART_LIMIT', detail });
}

type Busboy = typeof busboy;
let parserFactory: Busboy | undefined;

/** Parses a buffered multipart body with busboy, enforcing part count and size limits. */
export function parseMultipart(body: Buffer, context: ParseContext): Promise<MultipartForm> {
  const { limits } = context;
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // PERF: busboy loads with the first multipart body, not with every App.
      parserFactory ??= createRequire(import.meta.url)('busboy') as Busboy;
      parser = parserFactory({
        headers: { 'content-type': context.contentType },
        defParamCharset: 'utf8',
        limits: {
          parts: limits.multipartParts,
          fields: limits.multipartParts,
          files: limits.multipartParts,
          fieldSize: limits.multipartPartSize,
          fileSize: limits.multipartPartSize,
          headerPairs: 64,
        },
      });
    } catch (err) {
      reject(
        new HTTPBadRequest({
          code: 'PRG_MULTIPART_MALFORMED',
          detail: `The multipart body cannot be parsed: ${err instanceof Error ? err.message : String(err)}`,
        }),
      );
      return;
    }
    const fields: Record<string, string | string[]> = Object.create(null);
    const files: UploadedFile[] = [];
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      parser.removeAllListeners();
      parser.on('error', () => {});
      reject(err);
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated || info.nameTruncated) {
        fail(limitError(`Field "${name}" exceeds ${limits.multipartPartSize} bytes.`));
        return;
      }
      const prev = fields[name];
      if (prev === undefined) fields[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else fields[name] = [prev, value];
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        fail(limitError(`File "${info.filename}" exceeds ${limits.multipartPartSize} bytes.`));
      });
      stream.on('close', () => {
        if (failed) return;
        files.push({
          field: name,
          filename: info.filename ?? '',
          mimeType: info.mimeType,
          data: Buffer.concat(chunks),
        });
      });
    });
    for (const event of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      parser.on(event, () =>
        fail(limitError(`The form has more than ${limits.multipartParts} parts.`)),
      );
    }
    parser.on('error', (err: Error) =>
      fail(
        new HTTPBadRequest({
          code: 'PRG_MULTIPART_MALFORMED',
          detail: `The multipart body cannot be parsed: ${err.message}`,
        }),
      ),
    );
    parser.on('close', () => {
      if (!failed) resolve({ fields, files });
    });
    parser.end(body);
  });
}

/** The multipart/form-data media handler (parse only). */
export function multipartHandler(): MediaHandler {
  return { parse: (body, context) => parseMultipart(body, context) };
}
