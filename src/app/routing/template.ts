import { type ConverterFactory, type ConvertFn, parseConverterArgs } from './converters.ts';

/** A field of a URI template with its converter, if any. */
export interface Field {
  readonly name: string;
  /** The converter as written, e.g. `int(min=1)`; empty for a plain field. */
  readonly spec: string;
  readonly convert: ConvertFn | undefined;
}

/** One segment of a parsed template. */
export type Segment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'field'; readonly field: Field }
  | {
      readonly kind: 'complex';
      readonly source: string;
      readonly pattern: RegExp;
      readonly fields: readonly Field[];
    }
  | { readonly kind: 'path'; readonly field: Field };

/** A template that cannot be added: malformed, or in conflict with another route. */
export class RouteTemplateError extends Error {
  override name = 'RouteTemplateError';
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FIELD_RE = /^([^:()]*)(?::([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?)?$/s;

/** Splits a template into raw segments at slashes that are not inside a field. */
function splitTemplate(template: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 1;
  for (let i = 1; i < template.length; i++) {
    const ch = template[i];
    if (ch === '{') {
      if (depth > 0) throw new RouteTemplateError(`nested "{" in template ${template}`);
      depth++;
    } else if (ch === '}') {
      if (depth === 0) throw new RouteTemplateError(`unbalanced "}" in template ${template}`);
      depth--;
    } else if (ch === '/' && depth === 0) {
      parts.push(template.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new RouteTemplateError(`unbalanced "{" in template ${template}`);
  parts.push(template.slice(start));
  return parts;
}

/** Parses `name:conv(args)` into a field, resolving the converter. */
function parseField(
  body: string,
  template: string,
  converters: ReadonlyMap<string, ConverterFactory>,
): Field {
  const m = FIELD_RE.exec(body);
  if (m === null) throw new RouteTemplateError(`malformed field {${body}} in template ${template}`);
  const name = m[1]!.trim();
  if (!NAME_RE.test(name)) {
    throw new RouteTemplateError(`invalid field name "${name}" in template ${template}`);
  }
  const convName = m[2];
  if (convName === undefined) return { name, spec: '', convert: undefined };
  const factory = converters.get(convName);
  if (factory === undefined) {
    throw new RouteTemplateError(`unknown converter "${convName}" in template ${template}`);
  }
  const argSource = m[3] ?? '';
  let convert: ConvertFn;
  try {
    convert = factory(parseConverterArgs(argSource));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new RouteTemplateError(`converter ${convName} in template ${template}: ${why}`);
  }
  const spec = `${convName}(${argSource.replace(/\s+/g, '')})`;
  return { name, spec, convert };
}

/** Parses one segment: a literal, a lone field, a `path` field or a complex mix. */
function parseSegment(
  raw: string,
  template: string,
  converters: ReadonlyMap<string, ConverterFactory>,
): Segment {
  if (!raw.includes('{')) {
    if (raw.includes('}')) throw new RouteTemplateError(`stray "}" in template ${template}`);
    return { kind: 'literal', value: raw };
  }
  const pieces: Array<string | Field> = [];
  let i = 0;
  while (i < raw.length) {
    const open = raw.indexOf('{', i);
    if (open === -1) {
      pieces.push(raw.slice(i));
      break;
    }
    if (open > i) pieces.push(raw.slice(i, open));
    const close = raw.indexOf('}', open);
    pieces.push(parseField(raw.slice(open + 1, close), template, converters));
    i = close + 1;
  }
  if (pieces.length === 1 && typeof pieces[0] !== 'string') {
    const field = pieces[0]!;
    if (field.spec.startsWith('path(')) return { kind: 'path', field };
    return { kind: 'field', field };
  }
  let source = '^';
  const fields: Field[] = [];
  let previousWasField = false;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      source += piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      previousWasField = false;
    } else {
      if (previousWasField) {
        throw new RouteTemplateError(
          `fields {${fields.at(-1)!.name}} and {${piece.name}} need a literal between them in template ${template}`,
        );
      }
      if (piece.spec.startsWith('path(')) {
        throw new RouteTemplateError(
          `the path converter must fill a whole segment in template ${template}`,
        );
      }
      source += '(.+)';
      fields.push(piece);
      previousWasField = true;
    }
  }
  source += '$';
  return { kind: 'complex', source, pattern: new RegExp(source, 's'), fields };
}

/** A parsed template: its segments and field names in order. */
export interface ParsedTemplate {
  readonly template: string;
  readonly segments: readonly Segment[];
  readonly fieldNames: readonly string[];
}

/** Parses and checks a URI template such as `/items/{id:int}/files/{name}.{ext}`. */
export function parseTemplate(
  template: string,
  converters: ReadonlyMap<string, ConverterFactory>,
): ParsedTemplate {
  if (typeof template !== 'string' || !template.startsWith('/')) {
    throw new RouteTemplateError(`template must start with "/": ${String(template)}`);
  }
  if (/[?#\s]/.test(template.replace(/\{[^}]*\}/g, ''))) {
    throw new RouteTemplateError(`template must not contain "?", "#" or spaces: ${template}`);
  }
  const segments =
    template === '/'
      ? []
      : splitTemplate(template).map((raw) => parseSegment(raw, template, converters));
  const fieldNames: string[] = [];
  segments.forEach((segment, index) => {
    const names =
      segment.kind === 'literal'
        ? []
        : segment.kind === 'complex'
          ? segment.fields.map((f) => f.name)
          : [segment.field.name];
    for (const name of names) {
      if (fieldNames.includes(name)) {
        throw new RouteTemplateError(`field name "${name}" repeats in template ${template}`);
      }
      fieldNames.push(name);
    }
    if (segment.kind === 'path' && index !== segments.length - 1) {
      throw new RouteTemplateError(`the path converter must be the last segment in ${template}`);
    }
  });
  return { template, segments, fieldNames };
}

/** The shape of a segment with field names erased: two routes with one shape share a node. */
export function segmentShape(segment: Segment): string {
  switch (segment.kind) {
    case 'literal':
      return `L${segment.value}`;
    case 'field':
      return `F${segment.field.spec}`;
    case 'path':
      return 'P';
    case 'complex': {
      let i = 0;
      return `C${segment.source.replace(/\(\.\+\)/g, () => `{${segment.fields[i++]!.spec}}`)}`;
    }
  }
}

/** Field names of a segment, in order. */
export function segmentFieldNames(segment: Segment): string[] {
  if (segment.kind === 'literal') return [];
  if (segment.kind === 'complex') return segment.fields.map((f) => f.name);
  return [segment.field.name];
}
