import type { Maybe } from './types.ts';

const DASH = '–';

/** Seconds as a duration: 812 µs, 3.42 ms, 1.20 s. */
export function dur(seconds: Maybe): string {
  if (seconds === null || !Number.isFinite(seconds)) return DASH;
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)} µs`;
  if (seconds < 1) return `${sig(seconds * 1000)} ms`;
  return `${sig(seconds)} s`;
}

/** Milliseconds as a duration. */
export function ms(value: number): string {
  return dur(value / 1000);
}

function sig(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A rate per second. */
export function rate(n: Maybe): string {
  if (n === null) return DASH;
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A whole count with thousands separators. */
export function int(n: Maybe): string {
  return n === null ? DASH : Math.round(n).toLocaleString('en-US');
}

/** A ratio as a percentage. */
export function pct(r: Maybe, digits = 2): string {
  return r === null ? DASH : `${(r * 100).toFixed(digits)} %`;
}

/** Bytes in binary units. */
export function bytes(n: Maybe): string {
  if (n === null) return DASH;
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Seconds of uptime: 42 s, 12 min, 3 h 5 min, 2 d 4 h. */
export function uptime(s: number): string {
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A time of day (local). */
export function clock(t: number): string {
  return new Date(t).toLocaleTimeString('en-GB', { hour12: false });
}

/** How long ago. */
export function ago(t: number, now: number): string {
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}
