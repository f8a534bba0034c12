import {
  MASTER_SOURCE,
  type MetricStore,
  type StoredCounter,
  type StoredFamily,
  type StoredGauge,
  type StoredHistogram,
} from './metric-store.ts';

/** Content-Type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Content-Type of OpenMetrics 1.0. */
export const OPENMETRICS_CONTENT_TYPE =
  'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Exposition formats. */
export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** Picks OpenMetrics when the scraper's Accept header asks for it, else the Prometheus text format. */
export function negotiateExposition(accept: string | undefined): ExpositionFormat {
  if (accept === undefined) return 'prometheus';
  let best: ExpositionFormat = 'prometheus';
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';');
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k === 'q' && v !== undefined) q = Number(v);
    }
    const t = (type ?? '').trim().toLowerCase();
    const format: ExpositionFormat | undefined =
      t === 'application/openmetrics-text'
        ? 'openmetrics'
        : t === 'text/plain' || t === '*/*'
          ? 'prometheus'
          : undefined;
    if (format !== undefined && q > bestQ) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

function escapeHelp(value: string): string {
  return value.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (out !== '') out += ',';
    out += `${names[i]}="${escapeLabel(values[i] ?? '')}"`;
  }
  if (extra !== '') out = out === '' ? extra : `${out},${extra}`;
  return out === '' ? '' : `{${out}}`;
}

/**
 * How the master combined the workers' reports into the series shown, said in HELP so a reader
 * of `/metrics` knows whether a value is the node's total, one worker's, or the master's own.
 */
function mergeNote(fam: StoredFamily): string {
  if (fam.sources.size === 1 && fam.sources.has(MASTER_SOURCE)) return 'Kept by the master.';
  switch (fam.meta.kind) {
    case 'counter':
      return 'Summed over workers.';
    case 'histogram':
      return 'Buckets summed over workers.';
    case 'gauge':
      return fam.meta.merge === 'worker'
        ? 'One series per worker (label worker).'
        : 'Summed over workers.';
  }
}

function header(lines: string[], name: string, type: string, fam: StoredFamily, om: boolean): void {
  const help = fam.meta.help.trimEnd();
  const note = mergeNote(fam);
  lines.push(`# HELP ${name} ${escapeHelp(help === '' ? note : `${help} ${note}`)}`);
  lines.push(`# TYPE ${name} ${type}`);
  const unit = fam.meta.unit;
  if (om && unit !== '' && name.endsWith(`_${unit}`)) lines.push(`# UNIT ${name} ${unit}`);
}

function renderCounter(lines: string[], fam: StoredFamily, om: boolean): void {
  const base = fam.meta.name;
  header(lines, om ? base : `${base}_total`, 'counter', fam, om);
  for (const s of fam.series.values()) {
    const c = s as StoredCounter;
    lines.push(`${base}_total${labelText(fam.meta.labels, c.labelValues)} ${num(c.value)}`);
  }
}

function renderGauge(lines: string[], fam: StoredFamily, om: boolean): void {
  const name = fam.meta.name;
  header(lines, name, 'gauge', fam, om);
  const perWorker = fam.meta.merge === 'worker';
  for (const s of fam.series.values()) {
    const g = s as StoredGauge;
    if (perWorker) {
      for (const [worker, value] of g.byWorker) {
        const labels = labelText(fam.meta.labels, g.labelValues, `worker="${escapeLabel(worker)}"`);
        lines.push(`${name}${labels} ${num(value)}`);
      }
    } else {
      let total = 0;
      for (const v of g.byWorker.values()) total += v;
      lines.push(`${name}${labelText(fam.meta.labels, g.labelValues)} ${num(total)}`);
    }
  }
}

function renderHistogram(lines: string[], fam: StoredFamily, om: boolean): void {
  const name = fam.meta.name;
  const bounds = fam.meta.buckets!;
  header(lines, name, 'histogram', fam, om);
  for (const s of fam.series.values()) {
    const h = s as StoredHistogram;
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += h.counts[i]!;
      const le = i === bounds.length ? '+Inf' : num(bounds[i]!);
      let line = `${name}_bucket${labelText(fam.meta.labels, h.labelValues, `le="${le}"`)} ${num(cumulative)}`;
      const ex = om ? h.exemplars[i] : undefined;
      if (ex !== undefined) {
        line += ` # {trace_id="${ex.traceId}",span_id="${ex.spanId}"} ${num(ex.value)} ${(ex.timeMs / 1000).toFixed(3)}`;
      }
      lines.push(line);
    }
    const labels = labelText(fam.meta.labels, h.labelValues);
    lines.push(`${name}_sum${labels} ${num(h.sum)}`);
    lines.push(`${name}_count${labels} ${num(h.count)}`);
  }
}

/** Renders every merged family in the Prometheus text format or OpenMetrics. */
export function renderMetrics(store: MetricStore, format: ExpositionFormat): string {
  const om = format === 'openmetrics';
  const lines: string[] = [];
  for (const fam of store.families()) {
    if (fam.series.size === 0) continue;
    if (fam.meta.kind === 'counter') renderCounter(lines, fam, om);
    else if (fam.meta.kind === 'gauge') renderGauge(lines, fam, om);
    else renderHistogram(lines, fam, om);
  }
  if (om) lines.push('# EOF');
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
