/** Size and count limits that apply to a request; the App sets defaults, a route may override. */
export interface RouteLimits {
  /** Largest body accepted, in bytes (default 1 MiB). */
  bodyLimit: number;
  /** Most fields in a urlencoded form (default 1000). */
  formFields: number;
  /** Most parts in a multipart form (default 100). */
  multipartParts: number;
  /** Largest single multipart part, in bytes (default: the body limit). */
  multipartPartSize: number;
  /** Deepest JSON nesting (default 64). */
  jsonDepth: number;
}

/** The defaults of RouteLimits. */
export const DEFAULT_LIMITS: Readonly<RouteLimits> = {
  bodyLimit: 1024 * 1024,
  formFields: 1000,
  multipartParts: 100,
  multipartPartSize: 1024 * 1024,
  jsonDepth: 64,
};
