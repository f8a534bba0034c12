/**
 * Field converters for URI templates (`{id:int(min=1)}`). A converter turns the raw segment text
 * into a value, or returns `undefined` to reject it (the route then does not match: 404).
 */

/** Turns a path field into a value; `undefined` rejects the segment. */
export type ConvertFn = (value: string) => unknown;

/** Arguments written in a template: `int(3, min=1)` → positional [3], named { min: 1 }. */
export interface ConverterArgs {
  readonly positional: readonly unknown[];
  readonly named: Readonly<Record<string, unknown>>;
}

/** Builds a convert function from the arguments in the template; throws on bad arguments. */
export type ConverterFactory = (args: ConverterArgs) => ConvertFn;

/** Reads an argument by position or name, checking its type. */
function arg<T extends 'number' | 'string' | 'boolean'>(
  args: ConverterArgs,
  index: number,
  name: string,
  type: T,
): (T extends 'number' ? number : T extends 'string' ? string : boolean) | undefined {
  const value = name in args.named ? args.named[name] : args.positional[index];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== type) throw new TypeError(`argument ${name} must be a ${type}`);
  return value as never;
}

/** Rejects unknown named arguments and surplus positional ones. */
function onlyArgs(args: ConverterArgs, names: readonly string[]): void {
  if (args.positional.length > names.length) {
    throw new TypeError(`takes at most ${names.length} positional argument(s)`);
  }
  for (const key of Object.keys(args.named)) {
    if (!names.includes(key)) throw new TypeError(`unknown argument ${key}`);
  }
}

/** `int(num_digits, min, max)`: optional sign and ASCII digits only. */
const intConverter: ConverterFactory = (args) => {
  onlyArgs(args, ['num_digits', 'min', 'max']);
  const digits = arg(args, 0, 'num_digits', 'number');
  const min = arg(args, 1, 'min', 'number');
  const max = arg(args, 2, 'max', 'number');
  return (value) => {
    const len = value.length;
    let i = value.charCodeAt(0) === 45 /* - */ ? 1 : 0;
    if (len === i || len - i > 16) return undefined;
    if (digits !== undefined && len - i !== digits) return undefined;
    for (; i < len; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n)) return undefined;
    if (min !== undefined && n < min) return undefined;
    if (max !== undefined && n > max) return undefined;
    return n;
  };
};

const FLOAT_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** `float(min, max)`: a finite decimal number. */
const floatConverter: ConverterFactory = (args) => {
  onlyArgs(args, ['min', 'max']);
  const min = arg(args, 0, 'min', 'number');
  const max = arg(args, 1, 'max', 'number');
  return (value) => {
    if (!FLOAT_RE.test(value)) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) return undefined;
    if (min !== undefined && n < min) return undefined;
    if (max !== undefined && n > max) return undefined;
    return n;
  };
};

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** `uuid`: a UUID, with or without hyphens; yields the canonical lower-case form. */
const uuidConverter: ConverterFactory = (args) => {
  onlyArgs(args, []);
  return (value) => {
    if (!UUID_RE.test(value)) return undefined;
    const hex = value.replaceAll('-', '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
};

/** strptime directives the `dt` converter understands, as regex source and a setter. */
const DT_DIRECTIVES: Record<string, { re: string; field: string }> = {
  Y: { re: '(\\d{4})', field: 'year' },
  m: { re: '(\\d{2})', field: 'month' },
  d: { re: '(\\d{2})', field: 'day' },
  H: { re: '(\\d{2})', field: 'hour' },
  M: { re: '(\\d{2})', field: 'minute' },
  S: { re: '(\\d{2})', field: 'second' },
  f: { re: '(\\d{1,6})', field: 'fraction' },
  z: { re: '(Z|[+-]\\d{2}:?\\d{2})', field: 'offset' },
};

/** `dt(format)`: a date-time in a strptime format (default `%Y-%m-%dT%H:%M:%SZ`), as a Date in UTC. */
const dtConverter: ConverterFactory = (args) => {
  onlyArgs(args, ['format_string']);
  const format = arg(args, 0, 'format_string', 'string') ?? '%Y-%m-%dT%H:%M:%SZ';
  const fields: string[] = [];
  let source = '^';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch === '%') {
      const d = format[++i];
      if (d === '%') {
        source += '%';
        continue;
      }
      const directive = d === undefined ? undefined : DT_DIRECTIVES[d];
      if (directive === undefined) throw new TypeError(`unsupported directive %${d ?? ''}`);
      source += directive.re;
      fields.push(directive.field);
    } else {
      source += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  const re = new RegExp(`${source}$`);
  return (value) => {
    const m = re.exec(value);
    if (m === null) return undefined;
    const parts: Record<string, string> = {};
    for (let i = 0; i < fields.length; i++) parts[fields[i]!] = m[i + 1]!;
    const year = Number(parts.year ?? 1970);
    const month = Number(parts.month ?? 1);
    const day = Number(parts.day ?? 1);
    const hour = Number(parts.hour ?? 0);
    const minute = Number(parts.minute ?? 0);
    const second = Number(parts.second ?? 0);
    const ms = parts.fraction === undefined ? 0 : Math.floor(Number(`0.${parts.fraction}`) * 1000);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
      return undefined;
    }
    let time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
    const check = new Date(time);
    if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
    const offset = parts.offset;
    if (offset !== undefined && offset !== 'Z') {
      const digits = offset.replace(':', '');
      const sign = digits[0] === '-' ? -1 : 1;
      time -= sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * 60_000;
    }
    return new Date(time);
  };
};

/** `path`: the rest of the path, slashes included. Handled by the router; here for completeness. */
const pathConverter: ConverterFactory = (args) => {
  onlyArgs(args, []);
  return (value) => (value.length === 0 ? undefined : value);
};

/** The converters every router knows. */
export const BUILTIN_CONVERTERS: Readonly<Record<string, ConverterFactory>> = {
  int: intConverter,
  float: floatConverter,
  uuid: uuidConverter,
  dt: dtConverter,
  path: pathConverter,
};

/** Parses converter arguments: `3, min=1, name="x"` → positional and named values. */
export function parseConverterArgs(source: string): ConverterArgs {
  const positional: unknown[] = [];
  const named: Record<string, unknown> = {};
  const text = source.trim();
  if (text === '') return { positional, named };
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && text[i] === ' ') i++;
  };
  while (i < text.length) {
    skipSpace();
    let key: string | undefined;
    const keyMatch = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)/.exec(text.slice(i));
    if (keyMatch) {
      key = keyMatch[1];
      i += keyMatch[0].length;
      skipSpace();
    }
    let value: unknown;
    const ch = text[i];
    if (ch === '"' || ch === "'") {
      const end = text.indexOf(ch, i + 1);
      if (end === -1) throw new SyntaxError('unterminated string in converter arguments');
      value = text.slice(i + 1, end);
      i = end + 1;
    } else {
      let end = text.indexOf(',', i);
      if (end === -1) end = text.length;
      const raw = text.slice(i, end).trim();
      i = end;
      if (raw === 'true' || raw === 'True') value = true;
      else if (raw === 'false' || raw === 'False') value = false;
      else if (raw === 'null' || raw === 'None') value = null;
      else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw);
      else throw new SyntaxError(`bad converter argument "${raw}"`);
    }
    if (key !== undefined) {
      if (key in named) throw new SyntaxError(`argument ${key} given twice`);
      named[key] = value;
    } else {
      if (Object.keys(named).length > 0) {
        throw new SyntaxError('positional argument after a named one');
      }
      positional.push(value);
    }
    skipSpace();
    if (i < text.length) {
      if (text[i] !== ',') throw new SyntaxError('expected "," between converter arguments');
      i++;
    }
  }
  return { positional, named };
}
