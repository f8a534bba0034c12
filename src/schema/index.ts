/**
 * Schemas for route validation: TypeBox's `Type` builder (JSON Schema with static types), so
 * `responder({ body: Type.Object({ … }) }, …)` types `req.valid.body`.
 */
export { type Static, type TSchema, Type } from 'typebox';
export type { FieldError, Infer, Schema } from '../app/validation/schema.ts';
export type { StandardSchemaV1 } from '../app/validation/standard-schema.ts';
