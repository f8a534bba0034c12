import { html } from 'htm/preact';
import { Chart } from '../../dashboard/ui/chart.ts';
import { ago, int, pct } from '../../dashboard/ui/format.ts';
import { usePoll } from '../../dashboard/ui/poll.ts';
import { href } from '../../dashboard/ui/route.ts';
import { errorText, HealthDot, msText, perSecond, windowSeconds } from './common.ts';
import { edgeTraces } from './map.ts';
import { TraceList } from './traces.ts';
import type { Neighbour, ServiceDetail, TraceSummary } from './types.ts';

/** The apm's latency histogram bounds (ms; src/apm/graph.ts). */
const BOUNDS_MS = [
  0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000,
  3000, 5000, 7500, 10000,
];

function bucketFloor(ms: number): number {
  let floor = 0;
  for (const b of BOUNDS_MS) if (b < ms) floor = b;
  return floor;
}

const toSeconds = (xs: (number | null)[]) => xs.map((v) => (v === null ? null : v / 1000));

function Tile(props: { label: string; value: string; id: string; tone?: string }) {
  return html`<div class=${`tile ${props.tone ?? ''}`}>
    <div class="tile-label">${props.label}</div>
    <div class="tile-value" data-testid=${props.id}>${props.value}</div>
  </div>`;
}

function Neighbours(props: {
  rows: Neighbour[];
  side: 'callers' | 'callees';
  service: string;
  window: string;
}) {
  if (props.rows.length === 0)
    return html`<p class="muted" data-testid=${props.side}>${
      props.side === 'callers'
        ? 'Nothing called it in this window (an entry point, or idle).'
        : 'It called no other service, database, cache or host in this window.'
    }</p>`;
  return html`<div class="scroll"><table class="table compact" data-testid=${props.side}>
    <thead><tr><th>${props.side === 'callers' ? 'Caller' : 'Callee'}</th><th>Kind</th><th class="num">Calls</th>
      <th class="num">Rate</th><th class="num">Errors</th><th class="num">p95</th><th></th></tr></thead>
    <tbody>${props.rows.map((e) => {
      const other = props.side === 'callers' ? e.source : e.target;
      return html`<tr data-neighbour=${other} data-health=${e.nodeHealth}>
        <td><${HealthDot} health=${e.nodeHealth} /> ${
          e.kind === 'service'
            ? html`<a href=${href('service', { name: other, window: props.window })}>${other}</a>`
            : other
        }</td>
        <td class="muted">${e.kind}</td>
        <td class="num">${int(e.calls)}</td><td class="num">${perSecond(e.callsPerSecond)}</td>
        <td class=${`num ${e.errors > 0 ? 'bad' : ''}`}>${int(e.errors)} (${errorText(e.errorRate)})</td>
        <td class="num">${msText(e.p95Ms)}</td>
        <td><a href=${edgeTraces(e.source, e.target, props.window)}>traces →</a></td>
      </tr>`;
    })}</tbody></table></div>`;
}

/** A service from the stored data: its numbers, charts, operations, neighbours and traces. */
export function ServicePanel(props: { name: string; window: string }) {
  const seconds = windowSeconds(props.window);
  const q = usePoll<ServiceDetail>('service', { name: props.name, window: String(seconds) }, 5000);
  // Rounded to the minute, so the searches' parameters (and their polling) stay put meanwhile.
  const since = String(Math.floor((Date.now() - seconds * 1000) / 60_000) * 60_000);
  const d = q.data;
  // A leaf has no spans of its own: its traces are the calls into it from its (busiest) caller.
  const caller = d === undefined || d.kind === 'service' ? undefined : d.callers[0]?.source;
  const ready = d !== undefined && (d.kind === 'service' || caller !== undefined);
  const common: Record<string, string> =
    caller === undefined
      ? { service: props.name, start: since, limit: '8' }
      : { caller, callee: props.name, start: since, limit: '8' };
  const recent = usePoll<{ traces: TraceSummary[] }>(ready ? 'traces' : null, common, 5000);
  const failed = usePoll<{ traces: TraceSummary[] }>(
    ready ? 'traces' : null,
    { ...common, status: 'error' },
    5000,
  );
  // Slow: at least the lower bound of the histogram bucket the p95 falls in (the p95 itself is
  // interpolated inside it, so it can exceed every stored duration); stable while p95 moves.
  const p95 = d?.totals.p95Ms == null ? null : bucketFloor(d.totals.p95Ms);
  const slow = usePoll<{ traces: TraceSummary[] }>(
    p95 === null || !ready ? null : 'traces',
    { ...common, minDuration: String(p95 ?? 0) },
    5000,
  );
  const title = html`<h2 class="title"><a href=${href('map')} class="muted">Map</a> / <span data-testid="service-name">${props.name}</span>
    ${d ? html` <span class=${`badge ${d.totals.health}`} data-testid="service-health">${d.totals.health}</span>` : null}</h2>`;
  if (d === undefined)
    return html`<section>${title}<p class=${q.error ? 'error' : 'muted'}>${q.error ?? 'Loading…'}</p></section>`;
  const t = d.totals;
  const p = d.points;
  // A database, cache or external host: its numbers are the calls into it (its callers' client spans).
  const leaf = d.kind !== 'service';
  const what = leaf ? 'Calls' : 'Requests';
  const traceLink = (params: Record<string, string>) =>
    href('traces', {
      ...(caller === undefined ? { service: props.name } : { caller, callee: props.name }),
      window: props.window,
      ...params,
    });
  return html`<section data-testid="service-page">
    ${title}
    <p class="facts">${
      d.lastSeenMs === null
        ? html`<span>no spans stored</span>`
        : html`<span>last span <b>${ago(d.lastSeenMs ?? 0, Date.now())}</b></span>`
    }<span>points per minute, from the stored aggregates</span></p>
    <div class="tiles">
      <${Tile} id="service-calls" label=${`${what} (${props.window})`} value=${int(t.calls)} />
      <${Tile} id="service-rate" label="Rate" value=${perSecond(t.callsPerSecond)} />
      <${Tile} id="service-errors" label="Errors" value=${pct(t.errorRate)} tone=${t.errors > 0 ? 'bad' : ''} />
      <${Tile} id="service-p50" label="p50" value=${msText(t.p50Ms)} />
      <${Tile} id="service-p95" label="p95" value=${msText(t.p95Ms)} />
      <${Tile} id="service-p99" label="p99" value=${msText(t.p99Ms)} />
    </div>
    <div class="grid3 charts">
      <${Chart} title=${leaf ? `Calls into this ${d.kind} per second (per minute)` : 'Throughput (server spans per second, per minute)'} unit="rate" start=${p.start} stepMs=${p.stepMs}
        waitingText=${t.calls === 0 ? 'No requests in this window' : 'Waiting for a second minute of data…'}
        lines=${[
          { label: 'requests', values: p.callsPerSecond, color: '#5b9cf5', fill: true },
          { label: 'errors', values: p.errorsPerSecond, color: '#f05a5a' },
        ]} />
      <${Chart} title="Error rate (per minute)" unit="ratio" start=${p.start} stepMs=${p.stepMs} dots=${true}
        waitingText="No requests in this window"
        lines=${[{ label: 'failed', values: p.errorRate, color: '#f05a5a', fill: true }]} />
      <${Chart} title="Latency (per minute)" unit="seconds" start=${p.start} stepMs=${p.stepMs}
        waitingText="No requests in this window" lines=${[
          { label: 'p50', values: toSeconds(p.p50Ms), color: '#4cc38a' },
          { label: 'p95', values: toSeconds(p.p95Ms), color: '#e8b341' },
          { label: 'p99', values: toSeconds(p.p99Ms), color: '#f05a5a' },
        ]} />
    </div>
    <div class="grid2">
      <div class="card">
        <h3>Operations <span class="muted">(server spans by name, busiest first)</span></h3>
        ${
          d.operations.length === 0
            ? html`<p class="muted" data-testid="operations">${
                leaf
                  ? `A ${d.kind}: its operations are its callers' client spans (their traces are below).`
                  : 'No requests served in this window.'
              }</p>`
            : html`<div class="scroll"><table class="table compact" data-testid="operations">
          <thead><tr><th>Operation</th><th class="num">Calls</th><th class="num">Rate</th><th class="num">Errors</th>
            <th class="num">p50</th><th class="num">p95</th><th class="num">p99</th></tr></thead>
          <tbody>${d.operations.map(
            (o) => html`<tr data-operation=${o.operation} onClick=${() => {
              location.hash = traceLink({ operation: o.operation });
            }}>
              <td class="endpoint"><a href=${traceLink({ operation: o.operation })}>${o.operation}</a></td>
              <td class="num">${int(o.calls)}</td><td class="num">${perSecond(o.callsPerSecond)}</td>
              <td class=${`num ${o.errors > 0 ? 'bad' : ''}`}>${int(o.errors)} (${errorText(o.errorRate)})</td>
              <td class="num">${msText(o.p50Ms)}</td><td class="num">${msText(o.p95Ms)}</td><td class="num">${msText(o.p99Ms)}</td>
            </tr>`,
          )}</tbody></table></div>`
        }
      </div>
      <div class="card">
        <h3>Dependencies</h3>
        <h4 class="sub">Called by</h4>
        <${Neighbours} rows=${d.callers} side="callers" service=${props.name} window=${props.window} />
        <h4 class="sub">Calls</h4>
        <${Neighbours} rows=${d.callees} side="callees" service=${props.name} window=${props.window} />
      </div>
    </div>
    <div class="grid3">
      <div class="card"><h3>Recent traces <a class="more" href=${traceLink({})}>search →</a></h3>
        <${TraceList} q=${recent} id="service-recent" compact=${true} /></div>
      <div class="card"><h3>Failed traces <a class="more" href=${traceLink({ status: 'error' })}>all →</a></h3>
        <${TraceList} q=${failed} id="service-failed" compact=${true} empty="No failed spans in this window." /></div>
      <div class="card"><h3>Slow traces <span class="muted">(${p95 === null ? 'the p95 bucket' : `≥ ${msText(p95)}, the p95's bucket`})</span></h3>
        <${TraceList} q=${slow} id="service-slow" compact=${true} empty=${p95 === null ? 'No requests in this window.' : 'None.'} /></div>
    </div>
  </section>`;
}
