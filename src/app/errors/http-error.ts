import type { ErrorCode } from './codes.ts';
import { statusPhrase } from './status.ts';

/** Options for an HTTPError: the RFC 9457 problem members, extra headers and the cause. */
export interface HTTPErrorOptions {
  /** A short summary; defaults to the status phrase. */
  title?: string;
  /** A human-readable explanation of this occurrence. */
  detail?: string;
  /** A URI reference identifying the problem type; defaults to `about:blank`. */
  type?: string;
  /** A URI reference identifying this occurrence. */
  instance?: string;
  /** A stable machine-readable code (Peregrine's own are documented in docs/errors.md). */
  code?: ErrorCode | (string & {});
  /** Extension members added to the problem document. */
  extensions?: Record<string, unknown>;
  /** Headers added to the error response. */
  headers?: Record<string, string>;
  /** The underlying error, logged but never sent. */
  cause?: unknown;
}

/** An RFC 9457 problem details document. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code?: string;
  [extension: string]: unknown;
}

/** Base class of every error that maps to an HTTP status and a problem+json response. */
export class HTTPError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  /** The problem title. */
  readonly title: string;
  /** The problem detail, if any. */
  readonly detail: string | undefined;
  /** The problem type URI. */
  readonly type: string;
  /** The problem instance URI, if any. */
  readonly instance: string | undefined;
  /** A stable code, if any. */
  readonly code: string | undefined;
  /** Extension members of the problem document. */
  readonly extensions: Record<string, unknown> | undefined;
  /** Headers for the error response. */
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, options: HTTPErrorOptions = {}) {
    const title = options.title ?? statusPhrase(status);
    super(
      options.detail ?? title,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.status = status;
    this.title = title;
    this.detail = options.detail;
    this.type = options.type ?? 'about:blank';
    this.instance = options.instance;
    this.code = options.code;
    this.extensions = options.extensions;
    this.headers = options.headers;
  }

  /** The problem details document of this error. */
  toProblem(): ProblemDetails {
    const problem: ProblemDetails = { type: this.type, title: this.title, status: this.status };
    if (this.detail !== undefined) problem.detail = this.detail;
    if (this.instance !== undefined) problem.instance = this.instance;
    if (this.code !== undefined) problem.code = this.code;
    if (this.extensions !== undefined) {
      for (const key of Object.keys(this.extensions)) {
        // The standard members are not overridable through extensions.
        if (key === 'type' || key === 'title' || key === 'status') continue;
        problem[key] = this.extensions[key];
      }
    }
    return problem;
  }
}
