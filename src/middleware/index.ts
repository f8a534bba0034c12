/** Ready-made middleware: CORS and request ids. */
export { type CorsOptions, cors } from './cors.ts';
export { type RequestIdOptions, requestId } from './request-id.ts';
