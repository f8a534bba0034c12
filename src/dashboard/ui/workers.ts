import { html } from 'htm/preact';
import { Chart } from './chart.ts';
import { EventList } from './events.ts';
import { bytes, dur, int, pct, uptime } from './format.ts';
import { usePoll } from './poll.ts';
import type { MasterEvent, Workers } from './types.ts';

const COLORS = [
  '#5b9cf5',
  '#4cc38a',
  '#e8b341',
  '#f05a5a',
  '#c678dd',
  '#56b6c2',
  '#d19a66',
  '#98c379',
];

/** One row per worker, its runtime charts, and the master's event timeline. */
export function WorkersPanel() {
  const q = usePoll<Workers>('workers');
  const ev = usePoll<{ events: MasterEvent[]; now: number }>('events', { limit: '200' });
  const d = q.data;
  if (d === undefined) return html`<p class="muted">${q.error ?? 'Loading…'}</p>`;
  const m = d.master;
  const start = d.workers[0]?.points.start ?? 0;
  const line = (field: string) =>
    d.workers.map((w, i) => ({
      label: `#${w.id}`,
      values: w.points.series[field] ?? [],
      color: COLORS[i % COLORS.length]!,
    }));
  return html`<section>
    <div class="card">
      <h3>Master <span class="muted">pid ${m.pid}</span></h3>
      <p class="facts">
        <span>state <b data-testid="master-state">${m.state}</b></span>
        <span>generation <b data-testid="master-generation">${m.generation}</b></span>
        <span>workers <b>${d.workers.length}</b> / ${m.target}</span>
        <span>up <b>${uptime(m.uptimeSeconds)}</b></span>
        <span>RSS <b>${bytes(m.rss)}</b></span>
        <span>history <b>${bytes(m.historyBytes)}</b></span>
        <span>reloads <b>${m.reloads.succeeded}</b>${m.reloads.failed ? html` (${m.reloads.failed} failed)` : ''}</span>
        <span>restarts ${Object.entries(m.restarts)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => html`<b>${k} ${n}</b> `)}</span>
      </p>
    </div>
    <div class="card">
      <h3>Workers</h3>
      <div class="scroll"><table class="table" data-testid="workers">
        <thead><tr><th>Worker</th><th class="num">pid</th><th class="num">Gen.</th><th>State</th><th class="num">Uptime</th>
          <th class="num">Requests</th><th class="num">Conns</th><th class="num">RSS</th><th class="num">Heap</th>
          <th class="num">Loop busy</th><th class="num">Loop delay p99</th><th class="num">GC</th></tr></thead>
        <tbody>${d.workers.map(
          (w) => html`<tr data-pid=${w.pid} data-generation=${w.generation}>
            <td>#${w.id}</td><td class="num">${w.pid}</td><td class="num">${w.generation}</td>
            <td><span class=${`state ${w.state}`}>${w.state}</span>${w.retiring ? html` <span class="muted">(${w.retiring})</span>` : null}</td>
            <td class="num">${uptime(w.uptimeSeconds)}</td><td class="num">${int(w.requests)}</td>
            <td class="num">${int(w.connections)}</td><td class="num">${bytes(w.rss)}</td>
            <td class="num">${bytes(w.heapUsed)}</td><td class="num">${pct(w.elu, 0)}</td>
            <td class="num">${dur(w.loopDelayP99)}</td><td class="num">${dur(w.gcSeconds)}</td>
          </tr>`,
        )}</tbody>
      </table></div>
    </div>
    <div class="grid2">
      <${Chart} title="Event loop utilization" unit="ratio" start=${start} stepMs=${1000} lines=${line('elu')} />
      <${Chart} title="Event loop delay p99" unit="seconds" start=${start} stepMs=${1000} lines=${line('loopDelayP99')} />
      <${Chart} title="Requests per second" unit="rate" start=${start} stepMs=${1000} lines=${line('requests')} />
      <${Chart} title="Heap used" unit="bytes" start=${start} stepMs=${1000} lines=${line('heapUsed')} />
    </div>
    <div class="card">
      <h3>Event timeline</h3>
      <${EventList} events=${ev.data?.events ?? []} now=${ev.data?.now ?? Date.now()} />
    </div>
  </section>`;
}
