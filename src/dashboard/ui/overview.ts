import { html } from 'htm/preact';
import { Chart } from './chart.ts';
import { EventList } from './events.ts';
import { dur, int, pct, rate } from './format.ts';
import { usePoll } from './poll.ts';
import { href } from './route.ts';
import type { EndpointRow, MasterEvent, Overview } from './types.ts';

function Tile(props: { label: string; value: string; id: string; tone?: string; hint?: string }) {
  return html`<div class=${`tile ${props.tone ?? ''}`} title=${props.hint ?? ''}>
    <div class="tile-label">${props.label}</div>
    <div class="tile-value" data-testid=${props.id}>${props.value}</div>
  </div>`;
}

function apdexTone(a: number | null): string {
  return a === null ? '' : a >= 0.94 ? 'good' : a >= 0.85 ? 'fair' : 'bad';
}

/** The service at a glance: the numbers of the window, its charts, top endpoints and events. */
export function OverviewPanel(props: { window: string }) {
  const o = usePoll<Overview>('overview', { window: props.window });
  const e = usePoll<{ endpoints: EndpointRow[] }>('endpoints', { window: props.window });
  const ev = usePoll<{ events: MasterEvent[]; now: number }>('events', { limit: '8' });
  const d = o.data;
  if (d === undefined) return html`<p class="muted">${o.error ?? 'Loading…'}</p>`;
  const t = d.totals;
  const p = d.points;
  const perStep = p.stepMs === 1000 ? 'per second' : 'per minute, as /s';
  return html`<section class="overview">
    <div class="tiles">
      <${Tile} id="overview-requests" label=${`Requests (${d.window})`} value=${int(t.count)} />
      <${Tile} id="overview-rate" label="Requests/s" value=${rate(t.rate)} />
      <${Tile} id="overview-5xx" label="5xx errors" value=${pct(t.errorRate5xx)}
        tone=${t.errors5xx > 0 ? 'bad' : ''} hint=${`${int(t.errors5xx)} requests`} />
      <${Tile} id="overview-4xx" label="4xx" value=${pct(t.errorRate4xx)}
        hint=${`${int(t.errors4xx)} requests`} />
      <${Tile} id="overview-p50" label="p50" value=${dur(t.p50)} />
      <${Tile} id="overview-p95" label="p95" value=${dur(t.p95)} />
      <${Tile} id="overview-p99" label="p99" value=${dur(t.p99)} />
      <${Tile} id="overview-apdex" label="Apdex" hint=${`threshold T = ${dur(d.apdexThreshold)}: satisfied ≤ T, tolerating ≤ 4T`}
        value=${t.apdex === null ? '–' : t.apdex.toFixed(2)} tone=${apdexTone(t.apdex)} />
      <${Tile} id="overview-inflight" label="In flight" value=${int(d.inflight)}
        hint=${`most in the window: ${int(t.inflightMax)}`} />
      <${Tile} id="overview-shed" label="Shed (503)" value=${int(t.shed)} tone=${t.shed > 0 ? 'bad' : ''} />
    </div>
    <div class="grid2">
      <${Chart} title=${`Throughput (${perStep})`} unit="rate" start=${p.start} stepMs=${p.stepMs} lines=${[
        { label: 'requests', values: p.rate, color: '#5b9cf5', fill: true },
        { label: '5xx', values: p.e5xx, color: '#f05a5a' },
        { label: '4xx', values: p.e4xx, color: '#e8b341' },
        { label: 'shed', values: p.shed ?? [], color: '#c678dd' },
      ]} />
      <${Chart} title="Latency (quantiles of the merged histograms)" unit="seconds" start=${p.start} stepMs=${p.stepMs} lines=${[
        { label: 'p50', values: p.p50, color: '#4cc38a' },
        { label: 'p95', values: p.p95, color: '#e8b341' },
        { label: 'p99', values: p.p99, color: '#f05a5a' },
      ]} />
    </div>
    <div class="grid2">
      <div class="card">
        <h3>Top endpoints by time spent <a class="more" href=${href('endpoints')}>all →</a></h3>
        <table class="table compact">
          <thead><tr><th>Endpoint</th><th class="num">req/s</th><th class="num">p95</th><th class="num">5xx</th><th class="num">impact</th></tr></thead>
          <tbody>
            ${(e.data?.endpoints ?? []).slice(0, 6).map(
              (r) => html`<tr>
                <td class="endpoint"><a href=${href('endpoint', { method: r.method, route: r.route })}>
                  <span class="method">${r.method}</span> ${r.route || '(no route)'}</a></td>
                <td class="num">${rate(r.rate)}</td>
                <td class="num">${dur(r.p95)}</td>
                <td class="num">${pct(r.errorRate5xx, 1)}</td>
                <td class="num"><${Bar} value=${r.impact} /></td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      <div class="card">
        <h3>Master events <a class="more" href=${href('workers')}>timeline →</a></h3>
        <${EventList} events=${ev.data?.events ?? []} now=${ev.data?.now ?? Date.now()} />
      </div>
    </div>
  </section>`;
}

/** A share as a small bar with its percentage. */
export function Bar(props: { value: number }) {
  const w = Math.max(0, Math.min(100, props.value * 100));
  return html`<span class="bar"><span style=${{ width: `${w}%` }}></span><em>${w.toFixed(1)} %</em></span>`;
}
