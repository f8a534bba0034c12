import type { RouteLimits } from '../limits.ts';

/** What a parser learns about the body besides its bytes. */
export interface ParseContext {
  /** The full Content-Type header, parameters included. */
  readonly contentType: string;
  /** The limits of the route. */
  readonly limits: RouteLimits;
}

/** Parses and/or serialises one media type. */
export interface MediaHandler {
  /** Turns a body into a value; throw an HTTPError (usually 400) for a bad body. */
  parse?(body: Buffer, context: ParseContext): unknown;
  /** Turns a value into a body. */
  serialize?(value: unknown): string | Uint8Array;
}
