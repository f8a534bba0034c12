import 'uplot/dist/uPlot.min.css';
import './style.css';
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { DependenciesPanel } from './dependencies.ts';
import { EndpointPanel, EndpointsPanel } from './endpoints.ts';
import { OverviewPanel } from './overview.ts';
import { usePoll } from './poll.ts';
import { href, usePlace } from './route.ts';
import { TracesPanel } from './traces.ts';
import type { Overview } from './types.ts';
import { WaterfallPanel } from './waterfall.ts';
import { WorkersPanel } from './workers.ts';

const WINDOWS = ['5m', '15m', '1h', '6h', '24h'];
const TABS: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['endpoints', 'Endpoints'],
  ['dependencies', 'Dependencies'],
  ['workers', 'Workers'],
  ['traces', 'Traces'],
];

function App() {
  const place = usePlace();
  const [window, setWindow] = useState(() => localStorage.getItem('peregrine.window') ?? '15m');
  useEffect(() => localStorage.setItem('peregrine.window', window), [window]);
  const head = usePoll<Overview>('overview', { window: '5m' }, 5000);
  const service = head.data?.service ?? '';
  useEffect(() => {
    document.title = service ? `${service} · Peregrine` : 'Peregrine';
  }, [service]);
  const page = place.page;
  const section = page === 'endpoint' ? 'endpoints' : page === 'trace' ? 'traces' : page;
  let body: unknown;
  switch (page) {
    case 'endpoints':
      body = html`<${EndpointsPanel} window=${window} />`;
      break;
    case 'endpoint':
      body = html`<${EndpointPanel} window=${window} method=${place.params.get('method') ?? ''}
        route=${place.params.get('route') ?? ''} />`;
      break;
    case 'dependencies':
      body = html`<${DependenciesPanel} window=${window} />`;
      break;
    case 'workers':
      body = html`<${WorkersPanel} />`;
      break;
    case 'traces':
      body = html`<${TracesPanel} kind=${place.params.get('kind') ?? 'recent'} />`;
      break;
    case 'trace':
      body = html`<${WaterfallPanel} id=${place.params.get('id') ?? ''} />`;
      break;
    default:
      body = html`<${OverviewPanel} window=${window} />`;
  }
  return html`<header class="top">
      <div class="brand"><span class="logo">◆</span> <b>Peregrine</b>
        <span class="service" data-testid="service">${service}</span>
        <span class=${`live ${head.error ? 'down' : ''}`} title=${head.error ?? 'updates every second'}>
          ${head.error ? 'offline' : 'live'}</span></div>
      <nav class="tabs">${TABS.map(
        ([id, label]) =>
          html`<a href=${href(id)} class=${section === id ? 'active' : ''} data-testid=${`tab-${id}`}>${label}</a>`,
      )}</nav>
      <div class="windows" role="group" aria-label="Time window">${WINDOWS.map(
        (w) => html`<button class=${w === window ? 'active' : ''} onClick=${() => setWindow(w)}
          data-testid=${`window-${w}`}>${w}</button>`,
      )}</div>
    </header>
    <main>${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
