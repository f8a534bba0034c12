import { html } from 'htm/preact';
import { ago, clock } from './format.ts';
import type { MasterEvent } from './types.ts';

const SHOWN = [
  'worker',
  'workerPid',
  'generation',
  'reason',
  'code',
  'signal',
  'error',
  'silentMs',
];

const SEVERE = new Set(['crash', 'watchdog', 'boot-failure', 'kill']);
const NOTABLE = new Set(['reload', 'recycle', 'shed', 'scale-up', 'scale-down', 'ttin', 'ttou']);

function level(e: MasterEvent): string {
  const l = e.fields.level;
  if (typeof l === 'string') return l;
  return SEVERE.has(e.type) ? 'error' : NOTABLE.has(e.type) ? 'warn' : 'info';
}

/** The master's events, newest first, each with its time, type and the facts the master logged. */
export function EventList(props: { events: MasterEvent[]; now: number }) {
  if (props.events.length === 0) return html`<p class="muted">No events yet.</p>`;
  const newest = [...props.events].reverse();
  return html`<ol class="events" data-testid="events">
    ${newest.map(
      (e) => html`<li class=${`event ${level(e)} kind-${e.type}`} data-kind=${e.type}>
        <time title=${new Date(e.at).toISOString()}>${clock(e.at)}</time>
        <span class="kind">${e.type}</span>
        <span class="msg">${e.message}</span>
        <span class="fields">${SHOWN.filter(
          (k) => e.fields[k] !== undefined && e.fields[k] !== null,
        ).map((k) => html`<span class="field">${k}=${String(e.fields[k])}</span>`)}</span>
        <span class="ago muted">${ago(e.at, props.now)}</span>
      </li>`,
    )}
  </ol>`;
}
