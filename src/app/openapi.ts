import { statusPhrase } from './errors/status.ts';
import type { Middleware } from './middleware.ts';
import type { CompiledRoute, Endpoint } from './route.ts';
import { isStatusMap } from './route.ts';
import type { ParsedTemplate } from './routing/template.ts';
import { isStandardSchema, type Schema } from './validation/schema.ts';

/** The `info` and top-level extras of the generated document. */
export interface OpenAPIOptions {
  info?: { title?: string; version?: string; description?: string };
  servers?: Array<{ url: string; description?: string }>;
  /** Security schemes to list besides those the guards declare (`components.securitySchemes`). */
  securitySchemes?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * What a guard declares for the operations it runs on: a before hook or a middleware with an
 * `openapi` property of this shape (`peregrine/auth`'s `requires()` has one). The innermost
 * guard's `security` wins (responder hooks over route hooks over route middleware over App
 * middleware); schemes and responses add up.
 */
export interface OpenAPIGuard {
  /** Security schemes by name, for `components.securitySchemes`. */
  readonly securitySchemes?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The operation's security requirements (alternatives; `{}` makes it optional). */
  readonly security?: ReadonlyArray<Readonly<Record<string, readonly string[]>>>;
  /** Error responses it may answer with, status → description (problem+json). */
  readonly responses?: Readonly<Record<string, string>>;
}

/** The OpenAPI facts a hook or middleware carries, if any. */
function guardOf(x: unknown): OpenAPIGuard | undefined {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return undefined;
  const guard = (x as { openapi?: unknown }).openapi;
  return typeof guard === 'object' && guard !== null ? (guard as OpenAPIGuard) : undefined;
}

/** A generated OpenAPI 3.1 document (a plain JSON value). */
export type OpenAPIDocument = Record<string, unknown>;

type JsonSchema = Record<string, unknown>;

/** The JSON Schema of a route schema; Standard Schemas without a JSON form become `{}`. */
function jsonSchemaOf(schema: Schema | undefined): JsonSchema | undefined {
  if (schema === undefined) return undefined;
  if (isStandardSchema(schema)) {
    const toJson = (schema as { toJSONSchema?: () => JsonSchema }).toJSONSchema;
    return typeof toJson === 'function' ? toJson.call(schema) : {};
  }
  // JSON.parse(JSON.stringify(…)) drops TypeBox's symbol-keyed metadata.
  return JSON.parse(JSON.stringify(schema)) as JsonSchema;
}

/** The schema a path converter implies. */
function converterSchema(spec: string): JsonSchema {
  const name = spec === '' ? '' : spec.slice(0, spec.indexOf('('));
  switch (name) {
    case 'int':
      return { type: 'integer' };
    case 'float':
      return { type: 'number' };
    case 'uuid':
      return { type: 'string', format: 'uuid' };
    case 'dt':
      return { type: 'string', format: 'date-time' };
    default:
      return { type: 'string' };
  }
}

const PROBLEM_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri-reference' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string', format: 'uri-reference' },
    code: { type: 'string' },
  },
  additionalProperties: true,
};

function parametersFrom(
  location: 'query' | 'header',
  schema: JsonSchema | undefined,
): Array<Record<string, unknown>> {
  if (schema === undefined) return [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const param: Record<string, unknown> = {
      name,
      in: location,
      required: required.has(name),
      schema: property,
    };
    if (typeof property.description === 'string') param.description = property.description;
    return param;
  });
}

function operationFor(
  endpoint: Endpoint,
  openapiPath: string,
  pathParams: Array<{ name: string; schema: JsonSchema }>,
  guards: readonly OpenAPIGuard[],
): Record<string, unknown> {
  const spec = endpoint.spec;
  const operation: Record<string, unknown> = {};
  if (spec?.operationId) operation.operationId = spec.operationId;
  else {
    const words = openapiPath
      .replace(/[{}]/g, '')
      .split(/[^A-Za-z0-9]+/)
      .filter(Boolean);
    operation.operationId = [
      endpoint.method.toLowerCase(),
      ...words.map((w) => w[0]!.toUpperCase() + w.slice(1)),
    ].join('');
  }
  if (spec?.summary) operation.summary = spec.summary;
  if (spec?.description) operation.description = spec.description;
  if (spec?.tags) operation.tags = [...spec.tags];
  if (spec?.deprecated) operation.deprecated = true;
  const paramsSchema = jsonSchemaOf(spec?.params);
  const paramProps = (paramsSchema?.properties ?? {}) as Record<string, JsonSchema>;
  const parameters: Array<Record<string, unknown>> = pathParams.map((p) => ({
    name: p.name,
    in: 'path',
    required: true,
    schema: paramProps[p.name] ?? p.schema,
  }));
  parameters.push(...parametersFrom('query', jsonSchemaOf(spec?.query)));
  parameters.push(...parametersFrom('header', jsonSchemaOf(spec?.headers)));
  if (parameters.length > 0) operation.parameters = parameters;
  const body = jsonSchemaOf(spec?.body);
  if (body !== undefined) {
    const types = spec?.bodyTypes ?? ['application/json'];
    operation.requestBody = {
      required: true,
      content: Object.fromEntries(types.map((t) => [t, { schema: body }])),
    };
  }
  const responses: Record<string, unknown> = {};
  if (spec?.response !== undefined) {
    const byStatus = isStatusMap(spec.response) ? spec.response : { 200: spec.response };
    for (const [status, schema] of Object.entries(byStatus)) {
      responses[status] = {
        description: statusPhrase(Number(status)),
        content: { 'application/json': { schema: jsonSchemaOf(schema as Schema) } },
      };
    }
  } else {
    responses['200'] = { description: statusPhrase(200) };
  }
  const problem = {
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
  if (parameters.length > 0) responses['400'] ??= { description: statusPhrase(400), ...problem };
  if (body !== undefined) {
    responses['415'] ??= { description: statusPhrase(415), ...problem };
    responses['422'] ??= { description: statusPhrase(422), ...problem };
  }
  let security: OpenAPIGuard['security'];
  for (const guard of guards) {
    if (guard.security !== undefined) security = guard.security;
    for (const [status, description] of Object.entries(guard.responses ?? {})) {
      responses[status] ??= { description, ...problem };
    }
  }
  if (security !== undefined) operation.security = security.map((r) => ({ ...r }));
  responses.default = { description: 'Error', ...problem };
  operation.responses = responses;
  return operation;
}

/** The OpenAPI path of a template (`/items/{id:int}` → `/items/{id}`), collecting path parameters. */
function openapiPathOf(
  parsed: ParsedTemplate,
  pathParams: Array<{ name: string; schema: JsonSchema }>,
): string {
  if (parsed.segments.length === 0) return '/';
  const parts: string[] = [];
  for (const segment of parsed.segments) {
    if (segment.kind === 'literal') {
      parts.push(segment.value);
    } else if (segment.kind === 'complex') {
      let i = 0;
      for (const field of segment.fields) {
        pathParams.push({ name: field.name, schema: converterSchema(field.spec) });
      }
      parts.push(
        segment.source
          .slice(1, -1)
          .replace(/\(\.\+\)/g, () => `{${segment.fields[i++]!.name}}`)
          .replace(/\\(.)/g, '$1'),
      );
    } else {
      pathParams.push({ name: segment.field.name, schema: converterSchema(segment.field.spec) });
      parts.push(`{${segment.field.name}}`);
    }
  }
  return `/${parts.join('/')}`;
}

/** Builds an OpenAPI 3.1 document from the routes and their responder specs. */
export function buildOpenAPI(
  routes: readonly CompiledRoute[],
  options: OpenAPIOptions = {},
  appMiddleware: readonly Middleware[] = [],
): OpenAPIDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemes: Record<string, unknown> = { ...options.securitySchemes };
  const appGuards = appMiddleware.map(guardOf).filter((g) => g !== undefined);
  for (const route of routes) {
    const pathParams: Array<{ name: string; schema: JsonSchema }> = [];
    const openapiPath = openapiPathOf(route.parsed, pathParams);
    paths[openapiPath] ??= {};
    const item = paths[openapiPath];
    const routeGuards = [...appGuards, ...route.middleware.map(guardOf)];
    for (const endpoint of route.endpoints.values()) {
      if (endpoint.method === 'QUERY') continue;
      const guards = [...routeGuards, ...endpoint.before.map(guardOf)].filter(
        (g) => g !== undefined,
      );
      for (const guard of guards) Object.assign(schemes, guard.securitySchemes);
      item[endpoint.method.toLowerCase()] = operationFor(endpoint, openapiPath, pathParams, guards);
    }
  }
  const info = {
    title: options.info?.title ?? 'Peregrine API',
    version: options.info?.version ?? '0.0.0',
    ...(options.info?.description ? { description: options.info.description } : {}),
  };
  return {
    openapi: '3.1.0',
    info,
    ...(options.servers ? { servers: options.servers } : {}),
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      ...(Object.keys(schemes).length > 0 ? { securitySchemes: schemes } : {}),
    },
  };
}
