import { html } from 'htm/preact';
import { dur, pct, rate } from '../../dashboard/ui/format.ts';
import type { Health, Ms } from './types.ts';

/** Time windows of the header (label → seconds). */
export const WINDOWS: Array<[string, number]> = [
  ['5m', 300],
  ['15m', 900],
  ['1h', 3600],
  ['6h', 21600],
  ['24h', 86400],
];

/** Seconds of a window label (15 min when unknown). */
export function windowSeconds(label: string): number {
  return WINDOWS.find(([w]) => w === label)?.[1] ?? 900;
}

/**
 * Health colours, the API's rule (docs/apm.md): critical at ≥ 5 % errors, warning above 0, ok
 * with calls and no errors, idle with no calls in the window.
 */
export const HEALTH_COLOR: Record<Health, string> = {
  ok: '#4cc38a',
  warning: '#e8b341',
  critical: '#f05a5a',
  idle: '#8b95a5',
};

export const HEALTH_TEXT: Record<Health, string> = {
  ok: 'ok: calls, no errors',
  warning: 'warning: errors below 5 %',
  critical: 'critical: 5 % errors or more',
  idle: 'idle: no calls in the window',
};

/** Milliseconds as a duration (812 µs, 3.42 ms, 1.20 s), a dash for none. */
export function msText(v: Ms): string {
  return v === null ? '–' : dur(v / 1000);
}

/** Calls per second as text; below 0.1/s per minute (0.9/min reads better than 0.01/s). */
export function perSecond(v: number): string {
  if (v > 0 && v < 0.1) {
    const perMinute = v * 60;
    return `${perMinute >= 1 ? perMinute.toFixed(1) : perMinute.toFixed(2)}/min`;
  }
  return `${rate(v)}/s`;
}

/** An error ratio as a percentage with one decimal. */
export function errorText(r: number): string {
  return pct(r, 1);
}

/** A health dot with its name for screen readers. */
export function HealthDot(props: { health: Health }) {
  return html`<span class=${`hdot ${props.health}`} title=${HEALTH_TEXT[props.health]}
    aria-label=${props.health}></span>`;
}

const PALETTE = [
  '#5b9cf5',
  '#c678dd',
  '#56b6c2',
  '#d19a66',
  '#98c379',
  '#e06c9f',
  '#61afef',
  '#e5c07b',
  '#a3be8c',
  '#ff8f6b',
];

let known: string[] = [];
/** Services not (yet) among the known ones, in the order they were first drawn, and their colour. */
const extra = new Map<string, string>();

/** The services the apm knows (sorted): each gets the palette's colour at its index. */
export function setKnownServices(names: readonly string[]): void {
  known = [...names].sort();
  extra.clear();
}

/**
 * Each service its own colour, the same on every page: by its place among the known services
 * (distinct for up to 10); a service not known yet (the list not loaded, or it appeared since)
 * takes the first colour no other service has, and only past ten services a hash of its name.
 */
export function serviceColor(service: string): string {
  const i = known.indexOf(service);
  if (i >= 0 && i < PALETTE.length) return PALETTE[i]!;
  const given = extra.get(service);
  if (given !== undefined) return given;
  const taken = new Set([...PALETTE.slice(0, known.length), ...extra.values()]);
  let colour = PALETTE.find((p) => !taken.has(p));
  if (colour === undefined) {
    let h = 2166136261;
    for (let c = 0; c < service.length; c++) {
      h ^= service.charCodeAt(c);
      h = Math.imul(h, 16777619);
    }
    colour = PALETTE[(h >>> 0) % PALETTE.length]!;
  }
  extra.set(service, colour);
  return colour;
}
