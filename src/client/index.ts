/** `peregrine/client`: the outbound HTTP client for calling other services. */

export {
  type CallOptions,
  type ClientOptions,
  type ClientResponse,
  childTraceparent,
  createClient,
  HttpClient,
  type IncomingContext,
} from './client.ts';
export { UpstreamError, type UpstreamFailure } from './errors.ts';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
