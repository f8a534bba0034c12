import { mediaEssence, negotiate } from '../negotiation.ts';
import { formHandler } from './form.ts';
import type { MediaHandler } from './handler.ts';
import { jsonHandler } from './json.ts';
import { multipartHandler } from './multipart.ts';

/** The default response media type. */
export const JSON_TYPE = 'application/json';

/**
 * Media handlers by media type. Parsing picks the handler for the Content-Type (any `+json` type
 * falls back to JSON); serialisation picks the type the Accept header prefers among the handlers
 * that serialise.
 */
export class MediaRegistry {
  readonly #handlers = new Map<string, MediaHandler>();
  #offers: string[] = [];
  // PERF: Accept headers repeat; remember the outcome of the last few negotiations.
  readonly #negotiated = new Map<string, string | null>();

  constructor() {
    this.set(JSON_TYPE, jsonHandler());
    this.set('application/x-www-form-urlencoded', formHandler());
    this.set('multipart/form-data', multipartHandler());
  }

  /** Adds or replaces the handler of a media type. */
  set(mediaType: string, handler: MediaHandler): this {
    this.#handlers.set(mediaEssence(mediaType), handler);
    this.#offers = [...this.#handlers].filter(([, h]) => h.serialize).map(([type]) => type);
    this.#negotiated.clear();
    return this;
  }

  /** The handler for a type, or undefined. */
  get(mediaType: string): MediaHandler | undefined {
    return this.#handlers.get(mediaEssence(mediaType));
  }

  /** The parsing handler for a Content-Type header. */
  parserFor(contentType: string): MediaHandler | undefined {
    const essence = mediaEssence(contentType);
    const handler = this.#handlers.get(essence);
    if (handler?.parse) return handler;
    if (essence.endsWith('+json')) return this.#handlers.get(JSON_TYPE);
    return undefined;
  }

  /** The media type to answer with for an Accept header, or undefined if none is acceptable. */
  negotiate(accept: string | undefined): string | undefined {
    if (accept === undefined || accept === '*/*') return this.#offers[0];
    let chosen = this.#negotiated.get(accept);
    if (chosen === undefined) {
      chosen = negotiate(accept, this.#offers) ?? null;
      if (this.#negotiated.size >= 64) this.#negotiated.clear();
      this.#negotiated.set(accept, chosen);
    }
    return chosen ?? undefined;
  }
}
