import { HTTPBadRequest } from '../errors/classes.ts';
import { BUILTIN_CONVERTERS, type ConverterFactory } from './converters.ts';
import { paramsFactory, RadixTree, type Terminal } from './radix.ts';
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

/**
 * A node of the shape tree used at `add` time to detect conflicts: two templates whose segments
 * have the same shapes share nodes, and must then agree on field names.
 */
interface ShapeNode<T> {
  readonly segment: Segment | null;
  /** The first template that created the node, named in conflict messages. */
  readonly owner: string;
  terminal: Terminal<T> | null;
  readonly children: Map<string, ShapeNode<T>>;
}

const EMPTY_NAMES: readonly string[] = [];

/**
 * A compiled router from URI templates to values. Lookups walk a radix tree character by
 * character (children indexed by their first character; parameters consume whole segments), so
 * lookup cost depends on the path, not on the number of routes.
 * Conflicts and malformed templates fail at `add`.
 */
export class Router<T> {
  readonly #converters = new Map<string, ConverterFactory>(Object.entries(BUILTIN_CONVERTERS));
  readonly #shapes: ShapeNode<T> = {
    segment: null,
    owner: '',
    terminal: null,
    children: new Map(),
  };
  readonly #radix = new RadixTree<T>();
  readonly #strip: boolean;
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
    // Check against the existing templates first, so a failed add leaves the router unchanged.
    let node: ShapeNode<T> | undefined = this.#shapes;
    for (const segment of parsed.segments) {
      const child: ShapeNode<T> | undefined = node.children.get(segmentShape(segment));
      if (child === undefined) {
        node = undefined;
        break;
      }
      const existing = segmentFieldNames(child.segment!);
      const mine = segmentFieldNames(segment);
      if (existing.join() !== mine.join()) {
        throw new RouteTemplateError(
          `template ${template} conflicts with ${child.owner}: field {${mine.join('}, {')}} ` +
            `is {${existing.join('}, {')}} there`,
        );
      }
      node = child;
    }
    const existingTerminal = node?.terminal;
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
    let node = this.#shapes;
    const shapes: string[] = [];
    for (const segment of parsed.segments) {
      const shape = segmentShape(segment);
      shapes.push(shape);
      let child = node.children.get(shape);
      if (child === undefined) {
        child = { segment, owner: parsed.template, terminal: null, children: new Map() };
        node.children.set(shape, child);
      }
      node = child;
    }
    const names = parsed.fieldNames.length === 0 ? EMPTY_NAMES : parsed.fieldNames;
    const terminal: Terminal<T> = {
      value,
      template: parsed.template,
      names,
      params: paramsFactory(names),
    };
    node.terminal = terminal;
    this.#radix.insert(parsed.segments, shapes, terminal);
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
    if (path.indexOf('%') === -1) return this.#radix.find(path, false);
    // Decode each segment for matching; '%' and '/' inside a segment stay escaped so they
    // cannot be mistaken for separators, and are restored in field values.
    const segs = path.split('/');
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.indexOf('%') === -1) continue;
      let decoded: string;
      try {
        decoded = decodeURIComponent(s);
      } catch {
        throw new HTTPBadRequest({
          code: 'PRG_PATH_INVALID',
          detail: 'The request path has malformed percent-encoding.',
        });
      }
      segs[i] = decoded.replaceAll('%', '%25').replaceAll('/', '%2F');
    }
    return this.#radix.find(segs.join('/'), true);
  }
}
