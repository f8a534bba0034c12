import { html } from 'htm/preact';
import { ago, int } from '../../dashboard/ui/format.ts';
import { type Polled, usePoll } from '../../dashboard/ui/poll.ts';
import { href } from '../../dashboard/ui/route.ts';
import { msText, serviceColor, WINDOWS, windowSeconds } from './common.ts';
import type { ServiceSummary, TraceSummary } from './types.ts';

/** A service's name with its colour. */
export function ServiceTag(props: { service: string }) {
  return html`<span class="svc" data-service=${props.service}><i style=${{ background: serviceColor(props.service) }}></i>${props.service}</span>`;
}

/** Traces found by a search; each opens its waterfall. */
export function TraceList(props: {
  q: Polled<{ traces: TraceSummary[] }>;
  id: string;
  compact?: boolean;
  empty?: string;
}) {
  const traces = props.q.data?.traces;
  if (traces === undefined)
    return html`<p class=${props.q.error ? 'error' : 'muted'} data-testid=${props.id}>${props.q.error ?? 'Searching…'}</p>`;
  if (traces.length === 0)
    return html`<p class="muted" data-testid=${props.id} data-count="0">${props.empty ?? 'No trace matches.'}</p>`;
  const now = Date.now();
  return html`<div class="scroll"><table class=${`table ${props.compact ? 'compact' : ''}`} data-testid=${props.id} data-count=${traces.length}>
    <thead><tr><th>Trace</th>${props.compact ? null : html`<th>Services</th>`}<th class="num">Duration</th>
      ${props.compact ? null : html`<th class="num">Spans</th>`}<th class="num" title="spans with status error">Failed spans</th><th class="num">When</th></tr></thead>
    <tbody>${traces.map(
      (t) => html`<tr data-trace=${t.traceId} class=${t.errors > 0 ? 'failed' : ''}
          onClick=${() => {
            location.hash = href('trace', { id: t.traceId });
          }}>
        <td class="endpoint"><a href=${href('trace', { id: t.traceId })}>${
          props.compact ? null : html`<${ServiceTag} service=${t.rootService} /> `
        }${t.rootName}</a></td>
        ${props.compact ? null : html`<td>${t.services.map((s) => html`<${ServiceTag} service=${s} /> `)}</td>`}
        <td class="num">${msText(t.durationMs)}</td>
        ${props.compact ? null : html`<td class="num">${int(t.spans)}</td>`}
        <td class=${`num ${t.errors > 0 ? 'bad' : ''}`}>${int(t.errors)}</td>
        <td class="num muted" title=${new Date(t.startMs).toISOString()}>${ago(t.startMs, now)}</td>
      </tr>`,
    )}</tbody></table></div>`;
}

/** The search's fields, as the page's hash carries them. */
const FIELDS = [
  'service',
  'operation',
  'route',
  'status',
  'minDuration',
  'attr',
  'window',
  'start',
  'end',
  'caller',
  'callee',
] as const;

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/**
 * Search across services: service, operation, route, status, minimum duration, attribute = value,
 * time range (the last 5 min … 24 h, or from/to), and one edge of the map (caller → callee).
 */
export function TracesPanel(props: { params: URLSearchParams; window: string }) {
  const p = props.params;
  const get = (k: string) => p.get(k) ?? '';
  const set = (k: string, v: string) => {
    // From the address as it is now, not as this render saw it: a change made just before (the
    // hash set, its re-render not yet run) must not be lost.
    const now = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const next: Record<string, string> = {};
    for (const f of FIELDS) {
      const value = now.get(f) ?? '';
      if (value !== '') next[f] = value;
    }
    if (v === '') delete next[k];
    else next[k] = v;
    if (k === 'window') {
      delete next.start;
      delete next.end;
    }
    location.hash = href('traces', next);
  };
  const services = usePoll<{ services: ServiceSummary[] }>('services', {}, 10_000);
  const custom = get('start') !== '' || get('end') !== '';
  const window = get('window') || props.window;
  const query: Record<string, string> = { limit: '50' };
  for (const f of ['service', 'operation', 'route', 'status', 'minDuration', 'caller', 'callee']) {
    if (get(f) !== '') query[f] = get(f);
  }
  if (get('attr') !== '') query.attr = get('attr');
  if (custom) {
    if (get('start')) query.start = String(Date.parse(get('start')));
    if (get('end')) query.end = String(Date.parse(get('end')));
  } else {
    query.start = String(Math.floor((Date.now() - windowSeconds(window) * 1000) / 60_000) * 60_000);
  }
  const q = usePoll<{ traces: TraceSummary[] }>('traces', query, 3000);
  // Uncontrolled (defaultValue), so a re-render while someone types (every poll re-renders) never
  // puts back the value the address holds; keyed by that value, so a new address shows its own.
  const input = (k: string, label: string, placeholder: string, size = 14, type = 'text') =>
    html`<label>${label} <input key=${`${k}=${get(k)}`} type=${type} name=${k} defaultValue=${get(k)}
      placeholder=${placeholder} size=${size}
      onChange=${(e: Event) => set(k, (e.target as HTMLInputElement).value.trim())} /></label>`;
  const names = services.data?.services.map((s) => s.service) ?? [];
  if (get('service') !== '' && !names.includes(get('service'))) names.push(get('service'));
  return html`<section class="card" data-testid="trace-search">
    <h3>Traces <span class="muted">(newest first; a trace matches when one of its spans matches every filter)</span></h3>
    ${
      get('caller') !== ''
        ? html`<p class="edge-filter" data-testid="edge-filter">Calls on the edge <b><${ServiceTag} service=${get('caller')} /> → ${get('callee')}</b>
            <button class="chip" onClick=${() => {
              const next: Record<string, string> = {};
              for (const f of FIELDS)
                if (get(f) !== '' && f !== 'caller' && f !== 'callee') next[f] = get(f);
              location.hash = href('traces', next);
            }}>clear ✕</button></p>`
        : null
    }
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Service <select name="service" value=${get('service')}
        onChange=${(e: Event) => set('service', (e.target as HTMLSelectElement).value)}>
        <option value="">any</option>${names.map((n) => html`<option value=${n}>${n}</option>`)}</select></label>
      ${input('operation', 'Operation', 'GET /items/{id}')}
      ${input('route', 'Route', '/items/{id}', 12)}
      <label>Status <select name="status" value=${get('status')}
        onChange=${(e: Event) => set('status', (e.target as HTMLSelectElement).value)}>
        <option value="">any</option><option value="error">error</option><option value="ok">ok</option><option value="unset">unset</option></select></label>
      ${input('minDuration', 'Min duration (ms)', '0', 6)}
      ${input('attr', 'Attribute', 'key=value', 18)}
      <label>Time <select name="window" value=${custom ? 'custom' : window}
        onChange=${(e: Event) => {
          const v = (e.target as HTMLSelectElement).value;
          if (v === 'custom') set('start', toLocalInput(Date.now() - windowSeconds(window) * 1000));
          else set('window', v);
        }}>${WINDOWS.map(([w]) => html`<option value=${w}>last ${w}</option>`)}<option value="custom">from … to …</option></select></label>
      ${
        custom
          ? html`${input('start', 'From', '', 16, 'datetime-local')} ${input('end', 'To', '', 16, 'datetime-local')}`
          : null
      }
    </form>
    <${TraceList} q=${q} id="traces" empty=${`No trace matches${custom ? '' : ` in the last ${window}`}.`} />
  </section>`;
}
