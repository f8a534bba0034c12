export * from './classes.ts';
export { ERROR_CODES, type ErrorCode } from './codes.ts';
export { HTTPError, type HTTPErrorOptions, type ProblemDetails } from './http-error.ts';
export { STATUS_PHRASES, statusPhrase } from './status.ts';
