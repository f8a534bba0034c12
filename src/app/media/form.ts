import { HTTPBadRequest, HTTPContentTooLarge } from '../errors/classes.ts';
import type { MediaHandler } from './handler.ts';
import { decodeUtf8 } from './json.ts';

/** A parsed form: each name maps to its value, or to all values when repeated. */
export type FormFields = Record<string, string | string[]>;

/** Parses `application/x-www-form-urlencoded` with a field-count limit and strict decoding. */
export function parseForm(body: Buffer, maxFields: number): FormFields {
  const text = decodeUtf8(body);
  const fields: FormFields = Object.create(null);
  if (text === '') return fields;
  let count = 0;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    if (++count > maxFields) {
      throw new HTTPContentTooLarge({
        code: 'PRG_FORM_TOO_MANY_FIELDS',
        detail: `The form has more than ${maxFields} fields.`,
      });
    }
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1));
    const prev = fields[name];
    if (prev === undefined) fields[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else fields[name] = [prev, value];
  }
  return fields;
}

function decodeComponent(raw: string): string {
  const plus = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    throw new HTTPBadRequest({
      code: 'PRG_FORM_MALFORMED',
      detail: 'The form body has malformed percent-encoding.',
    });
  }
}

/** The urlencoded form media handler. */
export function formHandler(): MediaHandler {
  return {
    parse: (body, context) => parseForm(body, context.limits.formFields),
    serialize: (value) =>
      new URLSearchParams(
        Object.entries(value as Record<string, string | string[]>).flatMap(
          ([k, v]): Array<[string, string]> =>
            Array.isArray(v) ? v.map((item): [string, string] => [k, item]) : [[k, String(v)]],
        ),
      ).toString(),
  };
}
