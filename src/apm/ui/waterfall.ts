import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { clock } from '../../dashboard/ui/format.ts';
import { usePoll } from '../../dashboard/ui/poll.ts';
import { href } from '../../dashboard/ui/route.ts';
import { Attributes } from '../../dashboard/ui/waterfall.ts';
import { msText, serviceColor } from './common.ts';
import { ServiceTag } from './traces.ts';
import type { StoredSpan, TraceDoc } from './types.ts';

interface Row {
  span: StoredSpan;
  depth: number;
  /** For a server (or consumer) span called by a client (or producer) span: that span. */
  caller: StoredSpan | undefined;
}

/** Spans depth-first by parent, children by start; spans whose parent is missing at the top. */
export function rows(spans: StoredSpan[]): Row[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map<string, StoredSpan[]>();
  const roots: StoredSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId !== '' && byId.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const out: Row[] = [];
  const walk = (s: StoredSpan, depth: number) => {
    const parent = byId.get(s.parentSpanId);
    const caller =
      (s.kind === 'server' || s.kind === 'consumer') &&
      parent !== undefined &&
      (parent.kind === 'client' || parent.kind === 'producer')
        ? parent
        : undefined;
    out.push({ span: s, depth, caller });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startMs - b.startMs))
      walk(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.startMs - b.startMs)) walk(r, 0);
  return out;
}

/**
 * The network (and queueing) time of a call: the client span's duration not covered by the
 * server span — before the server's starts and after it ends. A part can be negative: a client
 * that stops its clock at the response's headers while the server's span lasts until the body is
 * written, or two hosts whose clocks differ; such a part counts as 0 (the details show it).
 */
export function gapOf(client: StoredSpan, server: StoredSpan) {
  const before = server.startMs - client.startMs;
  const after = client.startMs + client.durationMs - (server.startMs + server.durationMs);
  return {
    before: Math.max(0, before),
    after: Math.max(0, after),
    total: Math.max(0, before) + Math.max(0, after),
    rawBefore: before,
    rawAfter: after,
  };
}

function Details(props: { span: StoredSpan; t0: number; caller: StoredSpan | undefined }) {
  const s = props.span;
  const gap = props.caller === undefined ? undefined : gapOf(props.caller, s);
  return html`<div class="span-details">
    <p class="facts"><span>span <code>${s.spanId}</code></span><span>${s.kind}</span>
      <span>service <b>${s.service}</b></span><span>starts at +${msText(s.startMs - props.t0)}</span>
      <span>duration <b>${msText(s.durationMs)}</b></span>
      ${s.scope ? html`<span>scope ${s.scope}</span>` : null}
      ${
        gap
          ? html`<span>network: <b>${msText(gap.before)}</b> from the ${props.caller!.service} client span's start to this span's, <b>${msText(gap.after)}</b> from this span's end to the client's${
              gap.rawBefore < 0 || gap.rawAfter < 0
                ? ` (this span ${gap.rawBefore < 0 ? `starts ${msText(-gap.rawBefore)} before` : `ends ${msText(-gap.rawAfter)} after`} the client's: the client stopped at the response headers, or the clocks differ)`
                : ''
            }</span>`
          : null
      }
      ${s.status === 'error' ? html`<span class="bad">error${s.statusMessage ? `: ${s.statusMessage}` : ''}</span>` : null}</p>
    <${Attributes} attributes=${s.attributes} />
    ${s.events.map((e) =>
      e.name === 'exception'
        ? html`<div class="exception" data-testid="exception">
            <b>${String(e.attributes['exception.type'] ?? 'exception')}</b>: <span>${String(e.attributes['exception.message'] ?? '')}</span>
            ${e.attributes['exception.stacktrace'] ? html`<pre>${String(e.attributes['exception.stacktrace'])}</pre>` : null}
          </div>`
        : html`<div class="span-event"><b>${e.name}</b> at +${msText(e.timeMs - props.t0)}<${Attributes} attributes=${e.attributes} /></div>`,
    )}
    <details><summary class="muted">resource</summary><${Attributes} attributes=${s.resource} /></details>
  </div>`;
}

/**
 * One trace across services: each service in its colour (legend above), spans nested by parent;
 * where a client span calls a server span, the network time between them is drawn (hatched,
 * before and after the server's bar) and labelled.
 */
export function TracePanel(props: { id: string }) {
  // Again every 5 s: spans of a trace still arriving (each service exports on its own clock) join it.
  const q = usePoll<TraceDoc>(props.id ? `traces/${encodeURIComponent(props.id)}` : null, {}, 5000);
  const [open, setOpen] = useState<Set<string> | null>(null);
  const t = q.data;
  const back = html`<a href=${href('traces')} class="muted">Traces</a>`;
  if (t === undefined)
    return html`<section class="card"><h2 class="title">${back} / ${props.id}</h2>
      <p class=${q.error ? 'error' : 'muted'}>${q.error ?? 'Loading…'}</p></section>`;
  const list = rows(t.spans);
  const t0 = Math.min(...t.spans.map((s) => s.startMs));
  const t1 = Math.max(...t.spans.map((s) => s.startMs + s.durationMs));
  const total = Math.max(t1 - t0, 0.001);
  const services: string[] = [];
  for (const r of list) if (!services.includes(r.span.service)) services.push(r.span.service);
  const failed = t.spans.filter((s) => s.status === 'error');
  const root = list[0]!.span;
  // Open at first: the failed spans none of whose children failed — where the failure began.
  const failedParents = new Set(failed.map((s) => s.parentSpanId));
  const opened =
    open ?? new Set(failed.filter((s) => !failedParents.has(s.spanId)).map((s) => s.spanId));
  const toggle = (id: string) => {
    const next = new Set(opened);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  const at = (ms: number) => ((ms - t0) / total) * 100;
  return html`<section class="card waterfall" data-testid="waterfall">
    <h2 class="title">${back} / <${ServiceTag} service=${root.service} /> ${root.name}
      ${failed.length > 0 ? html`<span class="badge bad">${failed.length} failed</span>` : null}</h2>
    <p class="facts"><span>trace id <code data-testid="trace-id">${t.traceId}</code></span>
      <span>duration <b>${msText(total)}</b></span><span>${t.spans.length} spans</span>
      <span>${services.length} services</span><span>at ${clock(t0)}</span></p>
    <div class="wf-legend" data-testid="wf-legend">${services.map(
      (s) =>
        html`<span data-service=${s}><i style=${{ background: serviceColor(s) }}></i>${s}</span>`,
    )}<span class="muted"><i class="gap-swatch"></i>network between a client span and its server span</span>
      <span class="muted"><i class="err-swatch"></i>error</span></div>
    <div class="wf-scale"><span>0</span><span>${msText(total / 4)}</span><span>${msText(total / 2)}</span><span>${msText((3 * total) / 4)}</span><span>${msText(total)}</span></div>
    <ol class="wf">${list.map(({ span: s, depth, caller }, i) => {
      const parent = t.spans.find((x) => x.spanId === s.parentSpanId);
      const newService = i === 0 || parent === undefined || parent.service !== s.service;
      const left = at(s.startMs);
      const width = Math.max(0.3, (s.durationMs / total) * 100);
      const color = serviceColor(s.service);
      const gap = caller === undefined ? undefined : gapOf(caller, s);
      const isOpen = opened.has(s.spanId);
      const end = left + width;
      // Where the row's drawing ends (the bar, or the hatched gap after it): the label goes right
      // of it when there is room, else left of where the drawing starts.
      const reach = end + (gap?.after ? (gap.after / total) * 100 : 0);
      const from = gap && gap.before > 0 ? at(caller!.startMs) : left;
      // The label's width as a share of the track (about 0.8 % a character on a desktop screen);
      // with room on neither side it goes inside the bar's end.
      const need =
        (msText(s.durationMs).length + (gap ? 12 + msText(gap.total).length : 0)) * 0.8 + 1;
      const label = html`${msText(s.durationMs)}${
        gap
          ? html` <span class="wf-gap-label" data-testid="wf-gap" data-gap-ms=${gap.total.toFixed(3)}>· network ${msText(gap.total)}</span>`
          : null
      }`;
      return html`<li class=${`wf-row ${s.status === 'error' ? 'failed' : ''}`} data-span=${s.spanId}
          data-service=${s.service} data-kind=${s.kind} data-status=${s.status} data-name=${s.name}>
        <button class="wf-head" onClick=${() => toggle(s.spanId)} aria-expanded=${isOpen}>
          <span class="wf-name" style=${{ paddingLeft: `${depth * 14}px` }} title=${`${s.service}: ${s.name} (${s.kind})`}>
            <i class="wf-svc" style=${{ background: color }}></i>${
              newService ? html`<b class="wf-service" style=${{ color }}>${s.service}</b> ` : null
            }<span class="wf-kind">${s.kind}</span> ${s.name}${
              s.status === 'error' ? html` <span class="badge bad">error</span>` : null
            }</span>
          <span class="wf-track">
            ${gap && gap.before > 0 ? html`<span class="wf-gap" style=${{ left: `${at(caller!.startMs)}%`, width: `${(gap.before / total) * 100}%` }}></span>` : null}
            ${gap && gap.after > 0 ? html`<span class="wf-gap" style=${{ left: `${end}%`, width: `${(gap.after / total) * 100}%` }}></span>` : null}
            <span class="wf-bar" style=${{ left: `${left}%`, width: `${width}%`, background: color }}></span>
            <span class=${`wf-dur ${100 - reach < need && from < need ? 'inside' : ''}`} style=${
              100 - reach >= need
                ? { left: `${reach + 0.5}%` }
                : from >= need
                  ? { right: `${100 - from + 0.5}%` }
                  : { right: `${100 - end + 0.5}%` }
            }>${label}</span>
          </span>
        </button>
        ${isOpen ? html`<${Details} span=${s} t0=${t0} caller=${caller} />` : null}
      </li>`;
    })}</ol>
  </section>`;
}
