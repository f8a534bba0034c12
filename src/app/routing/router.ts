import { HTTPBadRequest } from '../errors/classes.ts';
import { BUILTIN_CONVERTERS, type ConverterFactory } from './converters.ts';
import {
  type ParsedTemplate,
  parseTemplate,
  RouteTemplateError,
  type Segment,
  segmentFieldNames,
  segmentShape,
} from './template.ts';

/** Path parameters of a matched route, after conversion. */
export type Params = Record<string, unknown>;

/** A successful lookup: the value stored for the template and the converted fields. */
export interface RouteMatch<T> {
  readonly value: T;
  readonly template: string;
  readonly params: Params;
}

/** Options of a router. */
export interface RouterOptions {
  /** Treat `/items/` like `/items` (default false: a trailing slash is a different path). */
  stripTrailingSlash?: boolean;
}

interface Terminal<T> {
  readonly value: T;
  readonly template: string;
  readonly names: readonly string[];
}

/**
 * One node of the compiled trie. Children are kept by kind in match priority: literal (hash
 * lookup), complex (regex), converter fields, plain fields, and finally `path`.
 */
class MatchNode<T> {
  terminal: Terminal<T> | null = null;
  literals: Map<string, MatchNode<T>> | null = null;
  complex: MatchNode<T>[] = [];
  fields: MatchNode<T>[] = [];
  path: MatchNode<T> | null = null;
  readonly segment: Segment | null;
  readonly owner: string;
  constructor(segment: Segment | null, owner: string) {
    this.segment = segment;
    this.owner = owner;
  }
}

/** Where a shape was first added, to name it in conflict messages. */
interface BuildNode<T> {
  node: MatchNode<T>;
  children: Map<string, BuildNode<T>>;
}

const EMPTY_NAMES: readonly string[] = [];

/**
 * A compiled router from URI templates to values. Static templates resolve with one hash lookup
 * of the whole path; the others walk a trie whose levels are hash maps, so lookup cost barely
 * grows with the number of routes. Conflicts and malformed templates fail at `add`.
 */
export class Router<T> {
  readonly #converters = new Map<string, ConverterFactory>(Object.entries(BUILTIN_CONVERTERS));
  readonly #root: BuildNode<T> = { node: new MatchNode<T>(null, ''), children: new Map() };
  // PERF: static routes skip segment splitting entirely; one Map.get per request.
  readonly #statics = new Map<string, Terminal<T>>();
  readonly #strip: boolean;
  #dynamicCount = 0;
  readonly #templates: string[] = [];

  constructor(options: RouterOptions = {}) {
    this.#strip = options.stripTrailingSlash ?? false;
  }

  /** Registers a converter usable as `{field:name(args)}` in templates added afterwards. */
  addConverter(name: string, factory: ConverterFactory): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`bad converter name ${name}`);
    this.#converters.set(name, factory);
  }

  /** Parses a template without adding it (used to check templates early). */
  parse(template: string): ParsedTemplate {
    return parseTemplate(template, this.#converters);
  }

  /** Adds a template; throws RouteTemplateError naming both routes on a conflict. */
  add(template: string, value: T): ParsedTemplate {
    const parsed = this.parse(template);
    // Check against the existing trie first, so a failed add leaves the router unchanged.
    let build: BuildNode<T> | undefined = this.#root;
    for (const segment of parsed.segments) {
      const child: BuildNode<T> | undefined = build.children.get(segmentShape(segment));
      if (child === undefined) {
        build = undefined;
        break;
      }
      const existing = segmentFieldNames(child.node.segment!);
      const mine = segmentFieldNames(segment);
      if (existing.join() !== mine.join()) {
        throw new RouteTemplateError(
          `template ${template} conflicts with ${child.node.owner}: field {${mine.join('}, {')}} ` +
            `is {${existing.join('}, {')}} there`,
        );
      }
      build = child;
    }
    const existingTerminal = build?.node.terminal;
    if (existingTerminal) {
      throw new RouteTemplateError(
        `template ${template} conflicts with ${existingTerminal.template}`,
      );
    }
    this.#attach(parsed, value);
    this.#templates.push(template);
    return parsed;
  }

  #attach(parsed: ParsedTemplate, value: T): void {
    let build = this.#root;
    let dynamic = false;
    for (const segment of parsed.segments) {
      const shape = segmentShape(segment);
      let child = build.children.get(shape);
      if (child === undefined) {
        child = { node: new MatchNode<T>(segment, parsed.template), children: new Map() };
        build.children.set(shape, child);
        const parent = build.node;
        switch (segment.kind) {
          case 'literal':
            parent.literals ??= new Map();
            parent.literals.set(segment.value, child.node);
            break;
          case 'complex':
            parent.complex.push(child.node);
            break;
          case 'field':
            // Converter fields are tried before plain ones; otherwise in the order added.
            if (segment.field.convert !== undefined) {
              const firstPlain = parent.fields.findIndex(
                (n) => n.segment?.kind === 'field' && n.segment.field.convert === undefined,
              );
              if (firstPlain === -1) parent.fields.push(child.node);
              else parent.fields.splice(firstPlain, 0, child.node);
            } else {
              parent.fields.push(child.node);
            }
            break;
          case 'path':
            parent.path = child.node;
            break;
        }
      }
      if (segment.kind !== 'literal') dynamic = true;
      build = child;
    }
    const terminal: Terminal<T> = {
      value,
      template: parsed.template,
      names: parsed.fieldNames.length === 0 ? EMPTY_NAMES : parsed.fieldNames,
    };
    build.node.terminal = terminal;
    if (dynamic) this.#dynamicCount++;
    else this.#statics.set(parsed.template, terminal);
  }

  /** The templates added, in order. */
  get templates(): readonly string[] {
    return this.#templates;
  }

  /**
   * Finds the route for a path (without query string). Returns null when nothing matches; throws
   * HTTPBadRequest for malformed percent-encoding.
   */
  find(path: string): RouteMatch<T> | null {
    if (this.#strip && path.length > 1 && path.charCodeAt(path.length - 1) === 47) {
      path = path.slice(0, -1);
    }
    const encoded = path.indexOf('%') !== -1;
    if (!encoded) {
      const terminal = this.#statics.get(path);
      if (terminal !== undefined) {
        return { value: terminal.value, template: terminal.template, params: {} };
      }
      if (this.#dynamicCount === 0) return null;
    }
    const segs = path.split('/');
    if (encoded) {
      for (let i = 1; i < segs.length; i++) {
        const s = segs[i]!;
        if (s.indexOf('%') !== -1) {
          try {
            segs[i] = decodeURIComponent(s);
          } catch {
            throw new HTTPBadRequest({
              code: 'PRG_PATH_INVALID',
              detail: 'The request path has malformed percent-encoding.',
            });
          }
        }
      }
    }
    // `/` splits into ['', ''] and is the root's terminal.
    const n = segs.length;
    if (n === 2 && segs[1] === '') {
      const t = this.#root.node.terminal;
      return t === null ? null : { value: t.value, template: t.template, params: {} };
    }
    return walk(this.#root.node, segs, 1, n, []);
  }
}

/** Depth-first match with backtracking; `vals` holds field values in template order. */
function walk<T>(
  node: MatchNode<T>,
  segs: string[],
  idx: number,
  n: number,
  vals: unknown[],
): RouteMatch<T> | null {
  if (idx === n) {
    const t = node.terminal;
    if (t === null) return null;
    const params: Params = {};
    const names = t.names;
    for (let i = 0; i < names.length; i++) params[names[i]!] = vals[i];
    return { value: t.value, template: t.template, params };
  }
  const s = segs[idx]!;
  const literals = node.literals;
  if (literals !== null) {
    const child = literals.get(s);
    if (child !== undefined) {
      const r = walk(child, segs, idx + 1, n, vals);
      if (r !== null) return r;
    }
  }
  const depth = vals.length;
  const complex = node.complex;
  for (let c = 0; c < complex.length; c++) {
    const child = complex[c]!;
    const segment = child.segment as Extract<Segment, { kind: 'complex' }>;
    const m = segment.pattern.exec(s);
    if (m === null) continue;
    let ok = true;
    for (let f = 0; f < segment.fields.length; f++) {
      const field = segment.fields[f]!;
      const raw = m[f + 1]!;
      const value = field.convert === undefined ? raw : field.convert(raw);
      if (value === undefined) {
        ok = false;
        break;
      }
      vals.push(value);
    }
    if (ok) {
      const r = walk(child, segs, idx + 1, n, vals);
      if (r !== null) return r;
    }
    vals.length = depth;
  }
  if (s !== '') {
    const fields = node.fields;
    for (let f = 0; f < fields.length; f++) {
      const child = fields[f]!;
      const convert = (child.segment as Extract<Segment, { kind: 'field' }>).field.convert;
      const value = convert === undefined ? s : convert(s);
      if (value === undefined) continue;
      vals.push(value);
      const r = walk(child, segs, idx + 1, n, vals);
      if (r !== null) return r;
      vals.length = depth;
    }
  }
  const pathNode = node.path;
  if (pathNode !== null && pathNode.terminal !== null) {
    const rest = idx === n - 1 ? s : segs.slice(idx).join('/');
    const convert = (pathNode.segment as Extract<Segment, { kind: 'path' }>).field.convert!;
    const value = convert(rest);
    if (value !== undefined) {
      vals.push(value);
      const t = pathNode.terminal;
      const params: Params = {};
      for (let i = 0; i < t.names.length; i++) params[t.names[i]!] = vals[i];
      return { value: t.value, template: t.template, params };
    }
  }
  return null;
}
