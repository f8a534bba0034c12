import 'uplot/dist/uPlot.min.css';
import '../../dashboard/ui/style.css';
import './style.css';
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ago, int } from '../../dashboard/ui/format.ts';
import { usePoll } from '../../dashboard/ui/poll.ts';
import { href, usePlace } from '../../dashboard/ui/route.ts';
import {
  errorText,
  HealthDot,
  msText,
  perSecond,
  setKnownServices,
  WINDOWS,
  windowSeconds,
} from './common.ts';
import { MapPanel } from './map.ts';
import { ServicePanel } from './service.ts';
import { TracesPanel } from './traces.ts';
import type { ServiceSummary } from './types.ts';
import { TracePanel } from './waterfall.ts';

const TABS: Array<[string, string]> = [
  ['map', 'Map'],
  ['services', 'Services'],
  ['traces', 'Traces'],
];

/** Every service that sent spans, with its numbers over the window. */
function ServicesPanel(props: { services: ServiceSummary[] | undefined; window: string }) {
  const list = props.services;
  if (list === undefined) return html`<p class="muted">Loading…</p>`;
  if (list.length === 0)
    return html`<section class="card"><h3>Waiting for data</h3><p class="muted">No service has sent spans yet.</p></section>`;
  const now = Date.now();
  return html`<section class="card"><h3>Services <span class="muted">(requests served in the last ${props.window})</span></h3>
    <div class="scroll"><table class="table" data-testid="services">
    <thead><tr><th>Service</th><th class="num">Requests</th><th class="num">req/s</th><th class="num">Errors</th>
      <th class="num">p95</th><th class="num">Last span</th></tr></thead>
    <tbody>${list.map(
      (s) => html`<tr data-service=${s.service} onClick=${() => {
        location.hash = href('service', { name: s.service, window: props.window });
      }}>
        <td><${HealthDot} health=${s.health} /> <a href=${href('service', { name: s.service, window: props.window })}>${s.service}</a></td>
        <td class="num">${int(s.calls)}</td><td class="num">${perSecond(s.callsPerSecond)}</td>
        <td class=${`num ${s.errors > 0 ? 'bad' : ''}`}>${int(s.errors)} (${errorText(s.errorRate)})</td>
        <td class="num">${msText(s.p95Ms)}</td><td class="num muted">${ago(s.lastSeenMs, now)}</td></tr>`,
    )}</tbody></table></div></section>`;
}

function App() {
  const place = usePlace();
  const [stored, setWindow] = useState(() => localStorage.getItem('peregrine.apm.window') ?? '15m');
  // A link may carry its window (an edge's traces, a node's page).
  const window = place.params.get('window') ?? stored;
  useEffect(() => localStorage.setItem('peregrine.apm.window', stored), [stored]);
  const choose = (w: string) => {
    setWindow(w);
    if (place.params.has('window')) {
      const next = Object.fromEntries(place.params);
      next.window = w;
      delete next.start;
      delete next.end;
      location.hash = href(place.page, next);
    }
  };
  const services = usePoll<{ services: ServiceSummary[] }>(
    'services',
    { window: String(windowSeconds(window)) },
    5000,
  );
  const names = (services.data?.services ?? []).map((s) => s.service).join('\n');
  setKnownServices(names === '' ? [] : names.split('\n'));
  const page = place.page === 'overview' ? 'map' : place.page;
  let body: unknown;
  switch (page) {
    case 'service':
      body = html`<${ServicePanel} name=${place.params.get('name') ?? ''} window=${window} />`;
      break;
    case 'services':
      body = html`<${ServicesPanel} services=${services.data?.services} window=${window} />`;
      break;
    case 'traces':
      body = html`<${TracesPanel} params=${place.params} window=${window} />`;
      break;
    case 'trace':
      body = html`<${TracePanel} id=${place.params.get('id') ?? ''} />`;
      break;
    default:
      body = html`<${MapPanel} window=${window} services=${services.data?.services} />`;
  }
  const section = page === 'service' ? 'services' : page === 'trace' ? 'traces' : page;
  useEffect(() => {
    document.title = `${page === 'service' ? `${place.params.get('name')} · ` : ''}Peregrine APM`;
  }, [page, place.params]);
  return html`<header class="top">
      <div class="brand"><span class="logo">◆</span> <b>Peregrine</b> <span class="service">APM</span>
        <span class=${`live ${services.error ? 'down' : ''}`} title=${services.error ?? 'updates every few seconds'}>
          ${services.error ? 'offline' : 'live'}</span></div>
      <nav class="tabs">${TABS.map(
        ([id, label]) =>
          html`<a href=${href(id)} class=${section === id ? 'active' : ''} data-testid=${`tab-${id}`}>${label}</a>`,
      )}</nav>
      <div class="windows" role="group" aria-label="Time window">${WINDOWS.map(
        ([w]) => html`<button class=${w === window ? 'active' : ''} onClick=${() => choose(w)}
          data-testid=${`window-${w}`}>${w}</button>`,
      )}</div>
    </header>
    ${services.error ? html`<p class="banner error" data-testid="offline">The apm does not answer (${services.error}); showing what was last loaded.</p>` : null}
    <main>${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
