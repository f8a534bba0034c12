import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Chart } from './chart.ts';
import { dur, int, pct, rate } from './format.ts';
import { Bar } from './overview.ts';
import { usePoll } from './poll.ts';
import { href } from './route.ts';
import { TraceTable } from './traces.ts';
import type { Endpoint, EndpointRow } from './types.ts';

type Key =
  | 'endpoint'
  | 'count'
  | 'rate'
  | 'errorRate5xx'
  | 'errorRate4xx'
  | 'p50'
  | 'p95'
  | 'p99'
  | 'impact';

const COLUMNS: Array<[Key, string]> = [
  ['endpoint', 'Endpoint'],
  ['count', 'Requests'],
  ['rate', 'req/s'],
  ['errorRate5xx', '5xx %'],
  ['errorRate4xx', '4xx %'],
  ['p50', 'p50'],
  ['p95', 'p95'],
  ['p99', 'p99'],
  ['impact', 'Impact'],
];

function value(r: EndpointRow, k: Key): number | string {
  if (k === 'endpoint') return `${r.route} ${r.method}`;
  return r[k] ?? -1;
}

/** Every endpoint of the window, sortable; impact = rate × mean latency, as a share of all time. */
export function EndpointsPanel(props: { window: string }) {
  const q = usePoll<{ endpoints: EndpointRow[] }>('endpoints', { window: props.window });
  const [sort, setSort] = useState<{ key: Key; desc: boolean }>({ key: 'impact', desc: true });
  const rows = [...(q.data?.endpoints ?? [])].sort((a, b) => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    const c = typeof x === 'string' ? x.localeCompare(String(y)) : x - (y as number);
    return sort.desc ? -c : c;
  });
  return html`<section class="card">
    <h3>Endpoints <span class="muted">(${props.window}; impact: share of all time spent serving)</span></h3>
    ${q.error ? html`<p class="error">${q.error}</p>` : null}
    <div class="scroll"><table class="table" data-testid="endpoints">
      <thead><tr>${COLUMNS.map(
        ([k, label]) => html`<th class=${k === 'endpoint' ? '' : 'num'}
          aria-sort=${sort.key === k ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
          <button class="sort" onClick=${() => setSort({ key: k, desc: sort.key === k ? !sort.desc : k !== 'endpoint' })}>
            ${label}${sort.key === k ? (sort.desc ? ' ▾' : ' ▴') : ''}</button></th>`,
      )}</tr></thead>
      <tbody>${rows.map(
        (r) => html`<tr data-method=${r.method} data-route=${r.route}
            onClick=${() => {
              location.hash = href('endpoint', { method: r.method, route: r.route });
            }}>
          <td class="endpoint"><a href=${href('endpoint', { method: r.method, route: r.route })}>
            <span class="method">${r.method}</span> ${r.route || '(no route)'}</a></td>
          <td class="num" data-testid="count">${int(r.count)}</td>
          <td class="num">${rate(r.rate)}</td>
          <td class=${`num ${r.errors5xx > 0 ? 'bad' : ''}`}>${pct(r.errorRate5xx, 1)}</td>
          <td class="num">${pct(r.errorRate4xx, 1)}</td>
          <td class="num">${dur(r.p50)}</td>
          <td class="num">${dur(r.p95)}</td>
          <td class="num">${dur(r.p99)}</td>
          <td class="num"><${Bar} value=${r.impact} /></td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${rows.length === 0 && q.data ? html`<p class="muted">No requests in this window.</p>` : null}
  </section>`;
}

/** One endpoint: its charts and its slowest and failed traces. */
export function EndpointPanel(props: { window: string; method: string; route: string }) {
  const q = usePoll<Endpoint>('endpoint', {
    method: props.method,
    route: props.route,
    window: props.window,
  });
  const d = q.data;
  return html`<section>
    <h2 class="title"><a href=${href('endpoints')} class="muted">Endpoints</a> /
      <span class="method">${props.method}</span> <span data-testid="endpoint-route">${props.route || '(no route)'}</span></h2>
    ${q.error ? html`<p class="error">${q.error}</p>` : null}
    ${
      d === undefined
        ? null
        : html`
      <div class="tiles">
        <div class="tile"><div class="tile-label">Requests</div><div class="tile-value">${int(d.totals.count)}</div></div>
        <div class="tile"><div class="tile-label">req/s</div><div class="tile-value">${rate(d.totals.rate)}</div></div>
        <div class="tile"><div class="tile-label">5xx</div><div class="tile-value">${pct(d.totals.errorRate5xx)}</div></div>
        <div class="tile"><div class="tile-label">p50</div><div class="tile-value">${dur(d.totals.p50)}</div></div>
        <div class="tile"><div class="tile-label">p95</div><div class="tile-value">${dur(d.totals.p95)}</div></div>
        <div class="tile"><div class="tile-label">p99</div><div class="tile-value">${dur(d.totals.p99)}</div></div>
      </div>
      <div class="grid2">
        <${Chart} title="Throughput" unit="rate" start=${d.points.start} stepMs=${d.points.stepMs} lines=${[
          { label: 'requests', values: d.points.rate, color: '#5b9cf5', fill: true },
          { label: '5xx', values: d.points.e5xx, color: '#f05a5a' },
          { label: '4xx', values: d.points.e4xx, color: '#e8b341' },
        ]} />
        <${Chart} title="Latency" unit="seconds" start=${d.points.start} stepMs=${d.points.stepMs} lines=${[
          { label: 'p50', values: d.points.p50, color: '#4cc38a' },
          { label: 'p95', values: d.points.p95, color: '#e8b341' },
          { label: 'p99', values: d.points.p99, color: '#f05a5a' },
        ]} />
      </div>
      <div class="grid2">
        <div class="card"><h3>Slowest traces</h3><${TraceTable} traces=${d.slowest} id="endpoint-slowest" /></div>
        <div class="card"><h3>Failed traces</h3><${TraceTable} traces=${d.failed} id="endpoint-failed" /></div>
      </div>`
    }
  </section>`;
}
