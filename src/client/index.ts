/** `peregrine/client`: the outbound HTTP client for calling other services. */
export { UpstreamError, type UpstreamFailure } from '../db/errors.ts';
export {
  type CallOptions,
  type ClientOptions,
  type ClientResponse,
  childTraceparent,
  createClient,
  HttpClient,
  type IncomingContext,
} from './client.ts';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
