/**
 * The service map's layout, layered left → right by call depth (no graph library: with the 3–30
 * nodes of a map this is a few loops). A node's layer is the longest chain of calls leading to it
 * from a node nobody calls (cycles are cut: a call back to an earlier layer is drawn as a back
 * edge); within a layer, nodes are ordered by the mean position of their callers (a few sweeps,
 * the barycenter heuristic), which keeps most edges from crossing.
 */

export interface LayoutInput {
  nodes: readonly { id: string; kind: string }[];
  edges: readonly { source: string; target: string }[];
}

export interface Placed {
  id: string;
  layer: number;
  /** Top-left corner and size, in the SVG's units. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Layout {
  nodes: Map<string, Placed>;
  width: number;
  height: number;
}

export const NODE_WIDTH = 226;
export const NODE_HEIGHT = 58;
const COLUMN_GAP = 228;
const ROW_GAP = 44;
const MARGIN = 24;

/** Places the nodes. Deterministic: the same map gives the same picture. */
export function layout(input: LayoutInput): Layout {
  const ids = input.nodes.map((n) => n.id);
  const known = new Set(ids);
  const edges = input.edges.filter(
    (e) => known.has(e.source) && known.has(e.target) && e.source !== e.target,
  );
  const out = new Map<string, string[]>();
  const into = new Map<string, string[]>();
  for (const id of ids) {
    out.set(id, []);
    into.set(id, []);
  }
  for (const e of edges) {
    out.get(e.source)!.push(e.target);
    into.get(e.target)!.push(e.source);
  }
  // Longest path from the roots, by depth-first search that ignores edges closing a cycle.
  const layer = new Map<string, number>();
  const state = new Map<string, 1 | 2>(); // 1: on the path, 2: done
  const visit = (id: string, depth: number) => {
    if (state.get(id) === 1) return; // a cycle: this edge is a back edge
    if ((layer.get(id) ?? -1) >= depth && state.get(id) === 2) return;
    layer.set(id, Math.max(layer.get(id) ?? 0, depth));
    state.set(id, 1);
    for (const next of out.get(id)!) visit(next, depth + 1);
    state.set(id, 2);
  };
  const kindOrder = (id: string) =>
    input.nodes.find((n) => n.id === id)?.kind === 'service' ? 0 : 1;
  const sorted = [...ids].sort((a, b) => kindOrder(a) - kindOrder(b) || a.localeCompare(b));
  for (const id of sorted) if (into.get(id)!.length === 0) visit(id, 0);
  // Whatever is only reachable through a cycle.
  for (const id of sorted) if (!layer.has(id)) visit(id, 0);
  // Leaves (databases, caches, external hosts) one column right of their deepest caller, so a
  // database is never drawn left of the service that calls it.
  for (const id of sorted) {
    if (kindOrder(id) === 1 && into.get(id)!.length > 0) {
      layer.set(id, Math.max(...into.get(id)!.map((c) => layer.get(c)! + 1)));
    }
  }
  const columns: string[][] = [];
  for (const id of sorted) {
    const l = layer.get(id)!;
    while (columns.length <= l) columns.push([]);
    columns[l]!.push(id);
  }
  // Barycenter sweeps: left to right by callers, then right to left by callees.
  const position = new Map<string, number>();
  const index = () => {
    for (const col of columns) {
      for (let i = 0; i < col.length; i++) position.set(col[i]!, i);
    }
  };
  index();
  const mean = (xs: string[], own: number) =>
    xs.length === 0 ? own : xs.reduce((s, x) => s + position.get(x)!, 0) / xs.length;
  for (let sweep = 0; sweep < 4; sweep++) {
    const forward = sweep % 2 === 0;
    const order = forward ? columns.slice(1) : columns.slice(0, -1).reverse();
    for (const col of order) {
      const key = new Map(
        col.map((id) => [id, mean((forward ? into : out).get(id)!, position.get(id)!)]),
      );
      col.sort((a, b) => key.get(a)! - key.get(b)! || a.localeCompare(b));
      index();
    }
  }
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const height = MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP;
  const width =
    MARGIN * 2 + columns.length * NODE_WIDTH + Math.max(0, columns.length - 1) * COLUMN_GAP;
  const nodes = new Map<string, Placed>();
  columns.forEach((col, l) => {
    const colHeight = col.length * NODE_HEIGHT + (col.length - 1) * ROW_GAP;
    const top = (height - colHeight) / 2;
    col.forEach((id, i) => {
      nodes.set(id, {
        id,
        layer: l,
        x: MARGIN + l * (NODE_WIDTH + COLUMN_GAP),
        y: top + i * (NODE_HEIGHT + ROW_GAP),
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
      });
    });
  });
  return { nodes, width, height };
}
