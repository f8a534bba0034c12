import { html } from 'htm/preact';
import { dur, int, pct, rate } from './format.ts';
import { usePoll } from './poll.ts';
import type { Dependencies, DependencyRow } from './types.ts';

function DependencyTable(props: { rows: DependencyRow[]; what: string; id: string }) {
  if (props.rows.length === 0)
    return html`<p class="muted">No ${props.what} calls in this window.</p>`;
  return html`<div class="scroll"><table class="table" data-testid=${props.id}>
    <thead><tr><th>${props.what}</th><th class="num">Calls</th><th class="num">calls/s</th>
      <th class="num">Errors</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th>
      <th class="num">Time per request</th></tr></thead>
    <tbody>${props.rows.map(
      (r) => html`<tr>
        <td>${r.name}</td><td class="num">${int(r.calls)}</td><td class="num">${rate(r.rate)}</td>
        <td class=${`num ${r.errors > 0 ? 'bad' : ''}`}>${int(r.errors)} (${pct(r.errorRate, 1)})</td>
        <td class="num">${dur(r.p50)}</td><td class="num">${dur(r.p95)}</td><td class="num">${dur(r.p99)}</td>
        <td class="num">${dur(r.timePerRequest)}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

/** What the service waits on: database operations, caches, outbound peers. */
export function DependenciesPanel(props: { window: string }) {
  const q = usePoll<Dependencies>('dependencies', { window: props.window });
  const d = q.data;
  if (d === undefined) return html`<p class="muted">${q.error ?? 'Loading…'}</p>`;
  return html`<section>
    <div class="card"><h3>Databases <span class="muted">(per operation)</span></h3>
      <${DependencyTable} rows=${d.db} what="Operation" id="deps-db" /></div>
    <div class="card"><h3>Outbound HTTP <span class="muted">(per peer)</span></h3>
      <${DependencyTable} rows=${d.http} what="Peer" id="deps-http" /></div>
    <div class="card"><h3>Caches</h3>
      ${
        d.caches.length === 0
          ? html`<p class="muted">No cache reads in this window.</p>`
          : html`<div class="scroll"><table class="table" data-testid="deps-cache">
        <thead><tr><th>Cache</th><th class="num">Reads</th><th class="num">reads/s</th><th class="num">Hit ratio</th>
          <th class="num">Misses</th><th class="num">Stale serves</th><th class="num">Loads</th><th class="num">Errors</th></tr></thead>
        <tbody>${d.caches.map(
          (
            c,
          ) => html`<tr><td>${c.name}</td><td class="num">${int(c.reads)}</td><td class="num">${rate(c.rate)}</td>
            <td class="num">${pct(c.hitRatio, 1)}</td><td class="num">${int(c.misses)}</td>
            <td class="num">${int(c.staleServes)}</td><td class="num">${int(c.loads)}</td>
            <td class=${`num ${c.errors > 0 ? 'bad' : ''}`}>${int(c.errors)}</td></tr>`,
        )}</tbody></table></div>`
      }
    </div>
  </section>`;
}
