import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { clock, ms } from './format.ts';
import { usePoll } from './poll.ts';
import { href } from './route.ts';
import type { AttributeValue, Span, Trace } from './types.ts';

const KIND = ['internal', 'server', 'client', 'producer', 'consumer'];

interface Row {
  span: Span;
  depth: number;
}

/** Spans ordered depth-first by parent, children by start; orphans (parent not here) at the top level. */
function tree(spans: Span[]): Row[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const out: Row[] = [];
  const walk = (s: Span, depth: number) => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.start - b.start))
      walk(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.start - b.start)) walk(r, 0);
  return out;
}

function show(v: AttributeValue): string {
  return Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/** Attributes as a key/value table, keys sorted, values as text. */
export function Attributes(props: { attributes: Record<string, AttributeValue> }) {
  const keys = Object.keys(props.attributes).sort();
  if (keys.length === 0) return null;
  return html`<table class="attrs">${keys.map(
    (k) => html`<tr><th>${k}</th><td>${show(props.attributes[k]!)}</td></tr>`,
  )}</table>`;
}

function Details(props: { span: Span; t0: number }) {
  const s = props.span;
  return html`<div class="span-details">
    <p class="facts"><span>span <code>${s.spanId}</code></span><span>${KIND[s.kind] ?? s.kind}</span>
      <span>scope ${s.scope}</span><span>starts at +${ms(s.start - props.t0)}</span>
      ${s.statusCode === 2 ? html`<span class="bad">error${s.statusMessage ? `: ${s.statusMessage}` : ''}</span>` : null}</p>
    <${Attributes} attributes=${s.attributes} />
    ${s.events.map((e) =>
      e.name === 'exception'
        ? html`<div class="exception" data-testid="exception">
            <b>${String(e.attributes['exception.type'] ?? 'exception')}</b>: <span data-testid="exception-message">${String(e.attributes['exception.message'] ?? '')}</span>
            ${e.attributes['exception.stacktrace'] ? html`<pre>${String(e.attributes['exception.stacktrace'])}</pre>` : null}
          </div>`
        : html`<div class="span-event"><b>${e.name}</b> at +${ms(e.time - props.t0)}<${Attributes} attributes=${e.attributes} /></div>`,
    )}
  </div>`;
}

/** One trace: spans nested by parent with timing bars; a span opens its attributes and events. */
export function WaterfallPanel(props: { id: string }) {
  const q = usePoll<Trace>(props.id ? `traces/${encodeURIComponent(props.id)}` : null, {}, 0);
  const [open, setOpen] = useState<Set<string> | null>(null);
  const t = q.data;
  if (t === undefined) return html`<p class="muted">${q.error ?? 'Loading…'}</p>`;
  const rows = tree(t.spans);
  const t0 = Math.min(...t.spans.map((s) => s.start));
  const t1 = Math.max(...t.spans.map((s) => s.end));
  const total = Math.max(t1 - t0, 0.001);
  // Failed spans start open, so an exception is in view at once.
  const opened =
    open ??
    new Set(t.spans.filter((s) => s.statusCode === 2 || s.events.length > 0).map((s) => s.spanId));
  const toggle = (id: string) => {
    const next = new Set(opened);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  return html`<section class="card waterfall" data-testid="waterfall">
    <h2 class="title"><a href=${href('traces')} class="muted">Traces</a> / ${t.name || 'trace'}
      ${t.error ? html`<span class="badge bad">failed</span>` : null}</h2>
    <p class="facts"><span>trace id <code data-testid="trace-id">${t.traceId}</code></span>
      <span>duration <b>${ms(t.duration)}</b></span><span>${t.spanCount} spans</span>
      <span>status <b>${t.status ?? '–'}</b></span><span>at ${clock(t.time)}</span>
      <span class="muted">kept: ${t.kept ?? '–'}</span></p>
    <div class="wf-scale"><span>0</span><span>${ms(total / 2)}</span><span>${ms(total)}</span></div>
    <ol class="wf">${rows.map(({ span: s, depth }) => {
      const left = ((s.start - t0) / total) * 100;
      const width = Math.max(0.3, ((s.end - s.start) / total) * 100);
      const isOpen = opened.has(s.spanId);
      return html`<li class=${`wf-row ${s.statusCode === 2 ? 'failed' : ''}`} data-span=${s.spanId}>
        <button class="wf-head" onClick=${() => toggle(s.spanId)} aria-expanded=${isOpen}>
          <span class="wf-name" style=${{ paddingLeft: `${depth * 14}px` }}>
            <span class=${`kind-dot k${s.kind}`}></span>${s.name}</span>
          <span class="wf-track"><span class="wf-bar" style=${{ left: `${left}%`, width: `${width}%` }}></span>
            <span class="wf-dur" style=${left + width > 85 ? { right: `${100 - left - width}%` } : { left: `${left + width}%` }}>${ms(s.end - s.start)}</span></span>
        </button>
        ${isOpen ? html`<${Details} span=${s} t0=${t0} />` : null}
      </li>`;
    })}</ol>
  </section>`;
}
