/**
 * Peregrine: a Falcon-class framework for API services. The root export is the framework core;
 * the server, testing, middleware and data parts live behind subpaths (`peregrine/server`, …).
 */
export {
  App,
  type AppOptions,
  type ErrorHandler,
  type Readiness,
  type ReadinessCheck,
  type RouteInfo,
} from './app/app.ts';
export type { PreconditionResult, Validators } from './app/conditional.ts';
export type { CookieOptions } from './app/cookies.ts';
export * from './app/errors/index.ts';
export { contentETag, type Freshness, notModified, versionETag } from './app/freshness.ts';
export { after, before, type HookDecorator, withHooks } from './app/hooks.ts';
export { DEFAULT_LIMITS, type RouteLimits } from './app/limits.ts';
export type { Logger } from './app/logger.ts';
export type { FormFields } from './app/media/form.ts';
export type { MediaHandler, ParseContext } from './app/media/handler.ts';
export type { MultipartForm, UploadedFile } from './app/media/multipart.ts';
export type { MediaRegistry } from './app/media/registry.ts';
export type {
  AfterHook,
  BeforeHook,
  MaybePromise,
  Middleware,
  Responder,
} from './app/middleware.ts';
export type { OpenAPIDocument, OpenAPIGuard, OpenAPIOptions } from './app/openapi.ts';
export type { Query } from './app/query.ts';
export { Request, type RequestContext, type ValidInput } from './app/request.ts';
export {
  type ResponderSpec,
  responder,
  type SpecifiedResponder,
  type TypedRequest,
} from './app/responder.ts';
export { type CacheControl, Response } from './app/response.ts';
export type { Resource, RouteOptions } from './app/route.ts';
export type { ConverterArgs, ConverterFactory, ConvertFn } from './app/routing/converters.ts';
export type { Params } from './app/routing/router.ts';
export { RouteTemplateError } from './app/routing/template.ts';
export type { RawRequest, RawResponse } from './app/transport.ts';
export type { FieldError, Infer, Schema } from './app/validation/schema.ts';
export type { StandardSchemaV1 } from './app/validation/standard-schema.ts';
