import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { ago, ms } from './format.ts';
import { usePoll } from './poll.ts';
import { href } from './route.ts';
import type { TraceSummary } from './types.ts';

/** Traces as rows; each opens its waterfall. */
export function TraceTable(props: { traces: TraceSummary[]; id: string; now?: number }) {
  if (props.traces.length === 0)
    return html`<p class="muted" data-testid=${props.id}>None kept.</p>`;
  const now = props.now ?? Date.now();
  return html`<div class="scroll"><table class="table compact" data-testid=${props.id}>
    <thead><tr><th>Trace</th><th class="num">Status</th><th class="num">Duration</th><th class="num">Spans</th><th class="num">When</th></tr></thead>
    <tbody>${props.traces.map(
      (t) => html`<tr data-trace=${t.traceId} class=${t.error ? 'failed' : ''}>
        <td><a href=${href('trace', { id: t.traceId })}>${t.name || t.traceId}</a></td>
        <td class=${`num ${t.error ? 'bad' : ''}`}>${t.status ?? '–'}</td>
        <td class="num">${ms(t.duration)}</td>
        <td class="num">${t.spanCount}</td>
        <td class="num muted">${ago(t.time, now)}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

const KINDS = ['recent', 'slowest', 'failed'] as const;

/** Kept traces: recent, slowest, failed; filtered by route, status and minimum duration. */
export function TracesPanel(props: { kind: string }) {
  const kind = (KINDS as readonly string[]).includes(props.kind) ? props.kind : 'recent';
  const [route, setRoute] = useState('');
  const [status, setStatus] = useState('');
  const [minDuration, setMin] = useState('');
  const params: Record<string, string> = { kind, limit: '100' };
  if (route) params.route = route;
  if (/^[1-5](\d\d|xx)$/.test(status)) params.status = status;
  if (/^\d+(\.\d+)?$/.test(minDuration)) params.minDuration = minDuration;
  const q = usePoll<{ traces: TraceSummary[] }>('traces', params);
  return html`<section class="card">
    <nav class="subtabs">${KINDS.map(
      (k) => html`<a href=${href('traces', { kind: k })} class=${k === kind ? 'active' : ''}
        data-testid=${`traces-${k}`}>${k}</a>`,
    )}</nav>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Route <input value=${route} placeholder="/users/{id}" onInput=${(e: Event) => setRoute((e.target as HTMLInputElement).value)} /></label>
      <label>Status <input value=${status} placeholder="500 or 5xx" size="6" onInput=${(e: Event) => setStatus((e.target as HTMLInputElement).value)} /></label>
      <label>Min duration (ms) <input value=${minDuration} placeholder="0" size="6" onInput=${(e: Event) => setMin((e.target as HTMLInputElement).value)} /></label>
    </form>
    ${q.error ? html`<p class="error">${q.error}</p>` : null}
    <${TraceTable} traces=${q.data?.traces ?? []} id="traces" />
  </section>`;
}
