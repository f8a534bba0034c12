import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { Static, TSchema } from 'typebox';
import type { StandardSchemaV1 } from './standard-schema.ts';

/** A route schema: a TypeBox / JSON Schema object, or any Standard Schema validator. */
export type Schema = TSchema | StandardSchemaV1 | Record<string, unknown>;

/** The type a schema validates to (unknown for a plain JSON Schema object). */
export type Infer<S> = S extends StandardSchemaV1
  ? StandardSchemaV1.InferOutput<S>
  : S extends TSchema
    ? Static<S>
    : unknown;

/** Where an input comes from. */
export type InputLocation = 'params' | 'query' | 'headers' | 'body' | 'response';

/** One validation failure, as listed in the problem document. */
export interface FieldError {
  /** Where the value came from. */
  in: InputLocation;
  /** JSON pointer to the failing value within that input. */
  pointer: string;
  /** What is wrong. */
  message: string;
}

/** A compiled check: the (possibly coerced) value, or the list of errors. */
export type Check = (
  value: unknown,
) =>
  | { ok: true; value: unknown }
  | { ok: false; errors: FieldError[] }
  | Promise<{ ok: true; value: unknown } | { ok: false; errors: FieldError[] }>;

type FormatsPlugin = (ajv: Ajv) => Ajv;

// PERF: Ajv and its formats (~65 modules, ~10 MiB of RSS) load when the first JSON Schema is
// compiled, not with the App: an App without schemas, and the master, never pay for them.
function makeAjv(coerce: boolean): Ajv {
  const load = createRequire(import.meta.url);
  const { Ajv: AjvClass } = load('ajv') as typeof import('ajv');
  const formatsModule = load('ajv-formats') as FormatsPlugin | { default: FormatsPlugin };
  const addFormats = 'default' in formatsModule ? formatsModule.default : formatsModule;
  const ajv = new AjvClass({
    allErrors: true,
    strict: false,
    useDefaults: true,
    coerceTypes: coerce ? 'array' : false,
  });
  addFormats(ajv);
  return ajv;
}

// Path, query and header values arrive as strings and are coerced; bodies and responses are not.
let coercing: Ajv | undefined;
let exact: Ajv | undefined;

/** Whether a schema is a Standard Schema validator. */
export function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  return typeof schema === 'object' && schema !== null && '~standard' in schema;
}

function pointerOf(path: ReadonlyArray<PropertyKey | StandardSchemaV1.PathSegment> | undefined) {
  if (path === undefined || path.length === 0) return '';
  return `/${path
    .map((p) =>
      String(typeof p === 'object' ? p.key : p)
        .replaceAll('~', '~0')
        .replaceAll('/', '~1'),
    )
    .join('/')}`;
}

function ajvErrors(location: InputLocation, errors: ErrorObject[]): FieldError[] {
  return errors.map((e) => {
    let pointer = e.instancePath;
    // Point at the missing property itself rather than at its parent.
    if (e.keyword === 'required') {
      pointer += `/${String((e.params as { missingProperty: string }).missingProperty)}`;
    } else if (e.keyword === 'additionalProperties') {
      pointer += `/${String((e.params as { additionalProperty: string }).additionalProperty)}`;
    }
    const message = e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid');
    return { in: location, pointer, message };
  });
}

/** Compiles a schema for one input location (once, when routes are added). */
export function compileCheck(schema: Schema, location: InputLocation): Check {
  if (isStandardSchema(schema)) {
    const standard = schema['~standard'];
    const convert = (result: StandardSchemaV1.Result<unknown>) =>
      result.issues === undefined
        ? { ok: true as const, value: result.value }
        : {
            ok: false as const,
            errors: result.issues.map((issue) => ({
              in: location,
              pointer: pointerOf(issue.path),
              message: issue.message,
            })),
          };
    return (value) => {
      const result = standard.validate(value);
      return result instanceof Promise ? result.then(convert) : convert(result);
    };
  }
  const coerce = location === 'params' || location === 'query' || location === 'headers';
  if (coerce) coercing ??= makeAjv(true);
  else exact ??= makeAjv(false);
  const ajv = (coerce ? coercing : exact)!;
  const validate: ValidateFunction = ajv.compile(schema as Record<string, unknown>);
  return (value) => {
    if (validate(value)) return { ok: true, value };
    return { ok: false, errors: ajvErrors(location, validate.errors ?? []) };
  };
}
