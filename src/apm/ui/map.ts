import { html } from 'htm/preact';
import { ago, int } from '../../dashboard/ui/format.ts';
import { usePoll } from '../../dashboard/ui/poll.ts';
import { href } from '../../dashboard/ui/route.ts';
import {
  errorText,
  HEALTH_COLOR,
  HEALTH_TEXT,
  HealthDot,
  msText,
  perSecond,
  windowSeconds,
} from './common.ts';
import { layout, type Placed } from './layout.ts';
import type { Health, MapEdge, MapNode, ServiceMap, ServiceSummary } from './types.ts';

const KIND_ICON: Record<string, string> = {
  service: '◆',
  database: '⛁',
  cache: '⚡',
  external: '☁',
};

/** The link an edge opens: the traces of its calls in the window. */
export function edgeTraces(source: string, target: string, window: string): string {
  return href('traces', { caller: source, callee: target, window });
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A cubic Bézier's coordinate at t. */
function cubic(t: number, p0: number, p1: number, p2: number, p3: number): number {
  const u = 1 - t;
  return u * u * u * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t * t * t * p3;
}

function Edge(props: {
  e: MapEdge;
  from: Placed;
  to: Placed;
  window: string;
  index: number;
  /** Edges leaving the caller, edges entering the callee. */
  fanOut: number;
  fanIn: number;
}) {
  const { e, from, to } = props;
  const color = HEALTH_COLOR[e.health];
  const x1 = from.x + from.width;
  const y1 = from.y + from.height / 2;
  let x2 = to.x;
  const y2 = to.y + to.height / 2;
  let d: string;
  let lx: number;
  let ly: number;
  if (to.layer > from.layer) {
    const bend = (x2 - x1) / 2;
    d = `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2 - 6},${y2}`;
    // The label on the curve, towards the end where the edges spread out: near the callee when
    // the caller fans out more than the callee is fanned into, else near the caller.
    const t = props.fanOut > props.fanIn ? 0.6 : props.fanOut < props.fanIn ? 0.4 : 0.5;
    const a = (1 - t) ** 3 + 3 * (1 - t) ** 2 * t;
    lx = cubic(t, x1, x1 + bend, x2 - bend, x2 - 6);
    ly = y1 === y2 ? y1 - 13 : a * y1 + (1 - a) * y2;
  } else {
    // A call back (a cycle, or within a layer): under both nodes, right side to right side.
    x2 = to.x + to.width;
    const below = Math.max(from.y + from.height, to.y + to.height) + 30 + props.index * 6;
    d = `M${from.x + from.width / 2},${from.y + from.height} C${from.x + from.width / 2},${below} ${to.x + to.width / 2},${below} ${to.x + to.width / 2},${to.y + to.height + 6}`;
    lx = (from.x + to.x + to.width) / 2;
    ly = below - 8;
  }
  const label = `${perSecond(e.callsPerSecond)} · ${errorText(e.errorRate)} · p95 ${msText(e.p95Ms)}`;
  const half = label.length * 3.1 + 6;
  // Never over a node: between the two columns when the label fits there.
  if (to.layer > from.layer && x2 - x1 > 2 * half + 12) {
    lx = Math.min(Math.max(lx, x1 + half + 6), x2 - half - 12);
  }
  const open = () => {
    location.hash = edgeTraces(e.source, e.target, props.window);
  };
  return html`<g class=${`edge ${e.health}`} data-edge=${`${e.source}→${e.target}`}
      data-calls=${e.calls} data-errors=${e.errors} data-health=${e.health}
      role="link" tabindex="0" onClick=${open}
      onKeyDown=${(ev: KeyboardEvent) => ev.key === 'Enter' && open()}>
    <title>${e.source} → ${e.target}: ${int(e.calls)} calls, ${int(e.errors)} failed (${errorText(e.errorRate)}), p50 ${msText(e.p50Ms)}, p95 ${msText(e.p95Ms)}. Click for its traces.</title>
    <path class="edge-hit" d=${d} />
    <path class="edge-line" d=${d} stroke=${color} marker-end=${`url(#arrow-${e.health})`}
      stroke-width=${Math.min(6, 1.5 + Math.log10(1 + e.callsPerSecond) * 2)} />
    <g transform=${`translate(${lx},${ly})`}>
      <rect class="edge-label-bg" x=${-half} y="-9" width=${2 * half} height="18" rx="4" />
      <text class="edge-label" text-anchor="middle" dy="4" fill=${e.health === 'ok' ? '#cfd6e1' : color}>${label}</text>
    </g>
  </g>`;
}

function Node(props: { n: MapNode; at: Placed; window: string }) {
  const { n, at } = props;
  const color = HEALTH_COLOR[n.health];
  const isService = n.kind === 'service';
  const open = () => {
    location.hash = href('service', { name: n.id, window: props.window });
  };
  const stats =
    n.calls === 0
      ? 'no calls in the window'
      : `${perSecond(n.callsPerSecond)} · ${errorText(n.errorRate)} · p95 ${msText(n.p95Ms)}`;
  return html`<g class=${`node ${n.kind} ${n.health} link`} data-node=${n.id}
      data-kind=${n.kind} data-health=${n.health} data-calls=${n.calls} data-errors=${n.errors}
      transform=${`translate(${at.x},${at.y})`} role="link" tabindex="0" onClick=${open}
      onKeyDown=${(ev: KeyboardEvent) => ev.key === 'Enter' && open()}>
    <title>${n.id} (${n.kind}): ${int(n.calls)} ${isService ? 'requests served' : 'calls'}, ${int(n.errors)} failed. ${HEALTH_TEXT[n.health]}. Click for its page.</title>
    <rect width=${at.width} height=${at.height} rx=${isService ? 8 : 22} class="node-box" stroke=${color} />
    <rect width="5" height=${at.height - 16} x="0" y="8" fill=${color} rx="2" />
    <text x="16" y="24" class="node-name"><tspan class="node-icon" fill=${color}>${KIND_ICON[n.kind] ?? '•'}</tspan> ${cut(n.id, 21)}</text>
    <text x="16" y="44" class="node-stats">${stats}</text>
  </g>`;
}

/** The legend: what the colours mean. */
function Legend() {
  return html`<div class="map-legend" data-testid="map-legend">${(
    ['ok', 'warning', 'critical', 'idle'] as Health[]
  ).map((h) => html`<span><${HealthDot} health=${h} /> ${HEALTH_TEXT[h]}</span>`)}
    <span class="muted">◆ service · ⛁ database · ⚡ cache · ☁ external · node and edge: rate · error % · p95</span></div>`;
}

/** Every service, database, cache and external host, and the calls between them, over the window. */
export function MapPanel(props: { window: string; services: ServiceSummary[] | undefined }) {
  const q = usePoll<ServiceMap>('map', { window: String(windowSeconds(props.window)) }, 2000);
  const m = q.data;
  if (m === undefined)
    return html`<section class="card"><p class=${q.error ? 'error' : 'muted'}>${q.error ? `The apm does not answer: ${q.error}` : 'Loading the map…'}</p></section>`;
  // Services that sent spans before the window but none in it: on the map too, grey (idle).
  const idle: MapNode[] = (props.services ?? [])
    .filter((sv) => !m.nodes.some((n) => n.id === sv.service))
    .map((sv) => ({
      id: sv.service,
      kind: 'service',
      calls: 0,
      errors: 0,
      callsPerSecond: 0,
      errorRate: 0,
      p95Ms: null,
      health: 'idle',
    }));
  const nodes = [...m.nodes, ...idle];
  if (nodes.length === 0) {
    return html`<section class="card map-empty" data-testid="map-empty">
      <h3>Waiting for data</h3>
      <p class="muted">No service has sent spans yet. Point your services' OTLP exporter at this
        apm (<code>OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318</code> by default; for
        <code>peregrine serve</code>, also <code>OTEL_SERVICE_NAME</code>) and the map fills in
        as calls arrive.</p>
      <${Legend} />
    </section>`;
  }
  const lastIdle = Math.max(
    0,
    ...(props.services ?? [])
      .filter((sv) => idle.some((n) => n.id === sv.service))
      .map((sv) => sv.lastSeenMs),
  );
  const placed = layout({ nodes, edges: m.edges });
  const sortedEdges = [...m.edges].sort((a, b) => b.calls - a.calls);
  return html`<section>
    <div class="card map-card">
      <h3>Service map <span class="muted">(last ${props.window}; a node opens its page, an edge its traces)</span></h3>
      ${q.error ? html`<p class="error">${q.error}</p>` : null}
      ${
        idle.length > 0
          ? html`<p class="muted" data-testid="map-idle">${
              idle.length === nodes.length ? 'No spans arrived in this window. ' : ''
            }${idle.length === 1 ? '1 service' : `${idle.length} services`} sent no spans in the last
              ${props.window} (grey; the latest of ${idle.length === 1 ? 'its' : 'their'} spans
              ${ago(lastIdle, Date.now())}): a longer window shows ${idle.length === 1 ? 'its' : 'their'} calls.</p>`
          : null
      }
      <div class="map-scroll">
        <svg class="map" data-testid="map" viewBox=${`0 0 ${placed.width} ${placed.height + 40}`}
          style=${{ maxWidth: `${placed.width}px`, minWidth: `${Math.min(placed.width, 760)}px` }}
          role="group" aria-label="Service map">
          <defs>${(['ok', 'warning', 'critical', 'idle'] as Health[]).map(
            (h) => html`<marker id=${`arrow-${h}`} viewBox="0 0 10 10" refX="8" refY="5"
              markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" fill=${HEALTH_COLOR[h]} /></marker>`,
          )}</defs>
          ${m.edges.map((e, i) => {
            const from = placed.nodes.get(e.source);
            const to = placed.nodes.get(e.target);
            return from && to
              ? html`<${Edge} e=${e} from=${from} to=${to} window=${props.window} index=${i}
                  fanOut=${m.edges.filter((x) => x.source === e.source).length}
                  fanIn=${m.edges.filter((x) => x.target === e.target).length} />`
              : null;
          })}
          ${nodes.map((n) => html`<${Node} n=${n} at=${placed.nodes.get(n.id)!} window=${props.window} />`)}
        </svg>
      </div>
      <${Legend} />
    </div>
    <div class="card">
      <h3>Calls <span class="muted">(every edge of the map)</span></h3>
      ${
        sortedEdges.length === 0
          ? html`<p class="muted">No calls between services in this window: each service is on its own.</p>`
          : html`<div class="scroll"><table class="table" data-testid="edges">
        <thead><tr><th>Caller</th><th>Callee</th><th class="num">Calls</th><th class="num">Rate</th>
          <th class="num">Errors</th><th class="num">p50</th><th class="num">p95</th><th></th></tr></thead>
        <tbody>${sortedEdges.map(
          (e) => html`<tr data-edge-row=${`${e.source}→${e.target}`}
              onClick=${() => {
                location.hash = edgeTraces(e.source, e.target, props.window);
              }}>
            <td><${HealthDot} health=${e.health} /> ${e.source}</td><td>${e.target}</td>
            <td class="num">${int(e.calls)}</td><td class="num">${perSecond(e.callsPerSecond)}</td>
            <td class=${`num ${e.errors > 0 ? 'bad' : ''}`}>${int(e.errors)} (${errorText(e.errorRate)})</td>
            <td class="num">${msText(e.p50Ms)}</td><td class="num">${msText(e.p95Ms)}</td>
            <td><a href=${edgeTraces(e.source, e.target, props.window)}>traces →</a></td></tr>`,
        )}</tbody></table></div>`
      }
    </div>
  </section>`;
}
