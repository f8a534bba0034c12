import type { Field, Segment } from './template.ts';

/** What a matched template yields. */
export interface Terminal<T> {
  readonly value: T;
  readonly template: string;
  readonly names: readonly string[];
  /** Builds the params object from the matched values. */
  readonly params: ParamsFactory;
}

/** Builds a params object from the values matched in template order. */
export type ParamsFactory = (vals: unknown[] | null) => Record<string, unknown>;

const factories = new WeakMap<readonly string[], ParamsFactory>();

/**
 * A function building the params object of one template from the matched values.
 * PERF: an object literal of fixed shape instead of keyed stores in a loop (which makes V8
 * transition the object through a new hidden class per key); field names are identifiers,
 * checked by the template parser, and are written through JSON.stringify all the same.
 */
export function paramsFactory(names: readonly string[]): ParamsFactory {
  let factory = factories.get(names);
  if (factory === undefined) {
    const body = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
    factory = new Function('v', `return { ${body} };`) as ParamsFactory;
    factories.set(names, factory);
  }
  return factory;
}

/** A lookup result. */
export interface RadixMatch<T> {
  readonly value: T;
  readonly template: string;
  readonly params: Record<string, unknown>;
}

/** An edge that consumes one whole segment (or, for `path`, the rest of the path). */
interface ParamEdge<T> {
  readonly kind: 'field' | 'complex' | 'path';
  readonly shape: string;
  readonly convert: ((value: string) => unknown) | undefined;
  readonly pattern: RegExp | undefined;
  readonly fields: readonly Field[];
  readonly child: RadixNode<T>;
}

/** A token of a template: static text, or a segment-consuming parameter. */
type Token = { readonly text: string } | { readonly segment: Segment; readonly shape: string };

/** Beyond this many static children a node indexes them by first character. */
const TABLE_THRESHOLD = 4;

/**
 * A radix-tree node: a compressed run of static characters, static children keyed by their first
 * character, and parameter edges tried in priority order.
 */
class RadixNode<T> {
  prefix: string;
  terminal: Terminal<T> | null = null;
  childChars: number[] = [];
  childNodes: RadixNode<T>[] = [];
  // PERF: with many children, an ASCII-indexed table replaces the linear scan.
  table: Array<RadixNode<T> | undefined> | null = null;
  params: ParamEdge<T>[] | null = null;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  child(code: number): RadixNode<T> | undefined {
    const table = this.table;
    if (table !== null && code < 128) return table[code];
    const chars = this.childChars;
    for (let i = 0; i < chars.length; i++) if (chars[i] === code) return this.childNodes[i];
    return undefined;
  }

  addChild(node: RadixNode<T>): void {
    this.childChars.push(node.prefix.charCodeAt(0));
    this.childNodes.push(node);
    this.#index();
  }

  replaceChild(old: RadixNode<T>, node: RadixNode<T>): void {
    const i = this.childNodes.indexOf(old);
    this.childNodes[i] = node;
    this.childChars[i] = node.prefix.charCodeAt(0);
    this.#index();
  }

  #index(): void {
    if (this.childNodes.length <= TABLE_THRESHOLD) {
      this.table = null;
      return;
    }
    const table: Array<RadixNode<T> | undefined> = new Array(128).fill(undefined);
    for (let i = 0; i < this.childChars.length; i++) {
      const code = this.childChars[i]!;
      if (code < 128) table[code] = this.childNodes[i];
    }
    // Non-ASCII first characters stay reachable through the linear arrays.
    this.table = this.childChars.every((c) => c < 128) ? table : null;
  }
}

/** Priority of parameter edges at one node: complex, converter field, plain field, path. */
function rank(edge: { kind: string; convert: unknown }): number {
  if (edge.kind === 'complex') return 0;
  if (edge.kind === 'field') return edge.convert !== undefined ? 1 : 2;
  return 3;
}

/**
 * A radix tree over URI templates, matched character by character on the raw path: no
 * splitting, no hashing per segment, substrings only for field values.
 */
export class RadixTree<T> {
  readonly #root = new RadixNode<T>('/');

  /** Inserts a parsed template (conflicts were checked by the caller). */
  insert(segments: readonly Segment[], shapes: readonly string[], terminal: Terminal<T>): void {
    const tokens: Token[] = [];
    let text = '/';
    segments.forEach((segment, i) => {
      if (i > 0) text += '/';
      if (segment.kind === 'literal') {
        text += segment.value;
      } else {
        tokens.push({ text });
        text = '';
        tokens.push({ segment, shape: shapes[i]! });
      }
    });
    if (text !== '') tokens.push({ text });
    let node = this.#root;
    let first = true;
    for (const token of tokens) {
      if ('text' in token) {
        node = first
          ? this.#insertStatic(node, token.text.slice(1), true)
          : this.#insertStatic(node, token.text, false);
      } else {
        node = this.#insertParam(node, token.segment, token.shape);
      }
      first = false;
    }
    node.terminal = terminal;
  }

  /** Descends from `node` (whose prefix is fully matched) along `text`, splitting as needed. */
  #insertStatic(node: RadixNode<T>, text: string, atRoot: boolean): RadixNode<T> {
    void atRoot;
    let rest = text;
    let current = node;
    while (rest.length > 0) {
      const next = current.child(rest.charCodeAt(0));
      if (next === undefined) {
        const leaf = new RadixNode<T>(rest);
        current.addChild(leaf);
        return leaf;
      }
      const prefix = next.prefix;
      let common = 0;
      const max = Math.min(prefix.length, rest.length);
      while (common < max && prefix.charCodeAt(common) === rest.charCodeAt(common)) common++;
      if (common === prefix.length) {
        current = next;
        rest = rest.slice(common);
        continue;
      }
      // Split `next` at the common prefix.
      const split = new RadixNode<T>(prefix.slice(0, common));
      next.prefix = prefix.slice(common);
      current.replaceChild(next, split);
      split.addChild(next);
      current = split;
      rest = rest.slice(common);
    }
    return current;
  }

  #insertParam(node: RadixNode<T>, segment: Segment, shape: string): RadixNode<T> {
    node.params ??= [];
    const existing = node.params.find((e) => e.shape === shape);
    if (existing !== undefined) return existing.child;
    const edge: ParamEdge<T> = {
      kind: segment.kind === 'literal' ? 'field' : segment.kind,
      shape,
      convert:
        segment.kind === 'field' || segment.kind === 'path' ? segment.field.convert : undefined,
      pattern: segment.kind === 'complex' ? segment.pattern : undefined,
      fields: segment.kind === 'complex' ? segment.fields : [],
      child: new RadixNode<T>(''),
    };
    node.params.push(edge);
    // Stable sort keeps insertion order within one rank.
    node.params.sort((a, b) => rank(a) - rank(b));
    return edge.child;
  }

  /** Finds the template matching a path (already decoded by the caller if needed). */
  find(path: string, decoded: boolean): RadixMatch<T> | null {
    return walk(this.#root, path, 0, null, decoded);
  }
}

/** Restores what the decoder escaped inside one segment (see Router.find). */
function unescapeSegment(value: string): string {
  return value.indexOf('%') === -1 ? value : value.replaceAll('%2F', '/').replaceAll('%25', '%');
}

function build<T>(t: Terminal<T>, vals: unknown[] | null): RadixMatch<T> {
  return { value: t.value, template: t.template, params: t.params(vals) };
}

function walk<T>(
  node: RadixNode<T>,
  path: string,
  pos: number,
  vals: unknown[] | null,
  decoded: boolean,
): RadixMatch<T> | null {
  const len = path.length;
  // PERF: descend static-only nodes in a loop; recurse only where a parameter edge could be
  // needed as a fallback.
  for (;;) {
    const prefix = node.prefix;
    const plen = prefix.length;
    if (plen === 1) {
      if (path.charCodeAt(pos) !== prefix.charCodeAt(0)) return null;
      pos++;
    } else if (plen > 0) {
      // PERF: short prefixes compare faster inline than through startsWith.
      if (plen < 16) {
        if (pos + plen > len) return null;
        for (let i = 0; i < plen; i++) {
          if (path.charCodeAt(pos + i) !== prefix.charCodeAt(i)) return null;
        }
      } else if (!path.startsWith(prefix, pos)) {
        return null;
      }
      pos += plen;
    }
    if (pos === len) {
      const t = node.terminal;
      return t === null ? null : build(t, vals);
    }
    const next = node.child(path.charCodeAt(pos));
    if (node.params === null) {
      if (next === undefined) return null;
      node = next;
      continue;
    }
    if (next !== undefined) {
      const r = walk(next, path, pos, vals, decoded);
      if (r !== null) return r;
    }
    break;
  }
  const edges = node.params;
  if (edges === null) return null;
  // Parameters consume whole segments; the tree only puts them right after a '/'.
  let end = path.indexOf('/', pos);
  if (end === -1) end = len;
  if (end === pos) return null;
  let segment = path.slice(pos, end);
  if (decoded) segment = unescapeSegment(segment);
  const depth = vals === null ? 0 : vals.length;
  for (let e = 0; e < edges.length; e++) {
    const edge = edges[e]!;
    if (edge.kind === 'field') {
      const value = edge.convert === undefined ? segment : edge.convert(segment);
      if (value === undefined) continue;
      vals ??= [];
      vals.push(value);
      const r = walk(edge.child, path, end, vals, decoded);
      if (r !== null) return r;
      vals.length = depth;
    } else if (edge.kind === 'complex') {
      const m = edge.pattern!.exec(segment);
      if (m === null) continue;
      vals ??= [];
      let ok = true;
      for (let f = 0; f < edge.fields.length; f++) {
        const field = edge.fields[f]!;
        const raw = m[f + 1]!;
        const value = field.convert === undefined ? raw : field.convert(raw);
        if (value === undefined) {
          ok = false;
          break;
        }
        vals.push(value);
      }
      if (ok) {
        const r = walk(edge.child, path, end, vals, decoded);
        if (r !== null) return r;
      }
      vals.length = depth;
    } else {
      const t = edge.child.terminal;
      if (t === null) continue;
      let rest = path.slice(pos);
      if (decoded) rest = rest.split('/').map(unescapeSegment).join('/');
      const value = edge.convert!(rest);
      if (value === undefined) continue;
      vals ??= [];
      vals.push(value);
      return build(t, vals);
    }
  }
  return null;
}
