import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { bytes, dur, pct, rate } from './format.ts';
import type { Maybe } from './types.ts';

/** How a chart's values read on its axis. */
export type Unit = 'seconds' | 'rate' | 'ratio' | 'bytes' | 'count';

/** One line of a chart. */
export interface Line {
  label: string;
  values: Maybe[];
  color: string;
  /** Filled under the line. */
  fill?: boolean;
}

function formatter(unit: Unit): (v: number) => string {
  switch (unit) {
    case 'seconds':
      return (v) => dur(v);
    case 'rate':
      return (v) => `${rate(v)}/s`;
    case 'ratio':
      return (v) => pct(v, v !== 0 && Math.abs(v) < 0.1 ? 1 : 0);
    case 'bytes':
      return (v) => bytes(v);
    default:
      return (v) => String(Math.round(v * 100) / 100);
  }
}

/**
 * The labels of the value axis: a zero is "0" whatever the unit, and percentages get as many
 * decimals as the tick step needs, so two ticks never read the same ("1 %", "1 %").
 */
function axisLabels(unit: Unit, splits: number[], fmt: (v: number) => string): string[] {
  if (unit === 'ratio') {
    const step = splits.length > 1 ? Math.abs(splits[1]! - splits[0]!) * 100 : 1;
    const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
    return splits.map((v) => (v === 0 ? '0' : pct(v, digits)));
  }
  return splits.map((v) => (v === 0 ? '0' : fmt(v)));
}

/**
 * A time series chart (uPlot: 50 KB, canvas, fast enough to redraw every second). A null value is
 * a gap in the line (no data, or nothing to measure), never drawn as zero.
 */
export function Chart(props: {
  title: string;
  /** The first point's time, ms since the epoch, and the step between points. */
  start: number;
  stepMs: number;
  lines: Line[];
  unit: Unit;
  height?: number;
  /** Shown instead of the chart while there is nothing to draw (default "Waiting for data…"). */
  waitingText?: string;
  /** Each value also drawn as a dot (default: latency charts), so a lone value shows. */
  dots?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dots = props.dots ?? props.unit === 'seconds';
  const waiting = isWaiting(props.lines, dots);
  const shape = props.lines.map((l) => l.label).join('|') + props.unit + (waiting ? '-' : '+');
  const data: uPlot.AlignedData = [
    Array.from(
      { length: Math.max(0, ...props.lines.map((l) => l.values.length)) },
      (_, i) => (props.start + i * props.stepMs) / 1000,
    ),
    ...props.lines.map((l) => l.values as Array<number | null>),
  ];

  useEffect(() => {
    const el = box.current;
    if (el === null || waiting) return;
    const fmt = formatter(props.unit);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 180,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          stroke: '#8b95a5',
          grid: { stroke: '#2a3140', width: 1 },
          ticks: { show: false },
          // Times of day (24 h): HH:MM on whole minutes, :SS between them.
          values: (_u, splits) =>
            splits.map((v) => {
              const d = new Date(v * 1000);
              const two = (n: number) => String(n).padStart(2, '0');
              return v % 60 === 0
                ? `${two(d.getHours())}:${two(d.getMinutes())}`
                : `:${two(d.getSeconds())}`;
            }),
        },
        {
          stroke: '#8b95a5',
          grid: { stroke: '#2a3140', width: 1 },
          ticks: { show: false },
          size: 64,
          values: (_u, splits) => axisLabels(props.unit, splits, fmt),
        },
      ],
      series: [
        {},
        ...props.lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 1.6,
          spanGaps: false,
          // Latency: a second with requests between two without is a dot, not nothing.
          points: dots ? { show: true, size: 4, fill: l.color, stroke: l.color } : { show: false },
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
          ...(l.fill ? { fill: `${l.color}22` } : {}),
        })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() =>
      u.setSize({ width: Math.max(200, el.clientWidth), height: opts.height }),
    );
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return html`<figure class="chart">
    <figcaption>${props.title}</figcaption>
    ${
      waiting
        ? html`<div class="chart-empty" data-testid="chart-waiting" style=${{ height: `${(props.height ?? 180) + 28}px` }}>
            <span>${props.waitingText ?? 'Waiting for data…'}</span></div>`
        : html`<div ref=${box}></div>`
    }
  </figure>`;
}

/**
 * Nothing to draw yet: no value at all, or (for lines without dots) no line with two values — an
 * empty frame with a made-up 0–1 axis would read as data. The chart says so instead.
 */
export function isWaiting(lines: readonly Line[], dots: boolean): boolean {
  const counts = lines.map((l) => l.values.filter((v) => v !== null && v !== undefined).length);
  if (dots) return counts.every((n) => n === 0);
  return counts.every((n) => n < 2);
}
