/**
 * The TechEmpower rules every implementation follows alike: the query-count clamp, random ids,
 * the extra fortune, HTML escaping, sorting and the fortunes template. Shared so that the
 * servers differ only in the framework under test.
 */

/** Rows in World and CachedWorld. */
export const WORLD_ROWS = 10_000;

/** The fortune every implementation adds at request time. */
export const EXTRA_FORTUNE_MESSAGE = 'Additional fortune added at request time.';

/** A World (or CachedWorld) row as it appears in JSON. */
export interface World {
  id: number;
  randomNumber: number;
}

/** A Fortune row. */
export interface Fortune {
  id: number;
  message: string;
}

/** A random id (or randomNumber) in 1..10,000. */
export function randomWorldId(): number {
  return 1 + Math.floor(Math.random() * WORLD_ROWS);
}

/**
 * The `queries` / `count` parameter: missing or not an integer → 1, clamped to 1..500.
 */
export function clampQueries(raw: string | null | undefined): number {
  if (raw === undefined || raw === null) return 1;
  const n = Number.parseInt(raw, 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return Math.min(n, 500);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  // PERF: most fortunes have nothing to escape; test once before building a new string.
  if (!/[&<>"']/.test(text)) return text;
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Adds the request-time fortune and sorts by message, as the rules demand (in the app). */
export function withExtraFortune(rows: readonly Fortune[]): Fortune[] {
  const all: Fortune[] = rows.map((r) => ({ id: r.id, message: r.message }));
  all.push({ id: 0, message: EXTRA_FORTUNE_MESSAGE });
  all.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  return all;
}

/** Renders the fortunes page (the TechEmpower template), escaping every message. */
export function renderFortunes(fortunes: readonly Fortune[]): string {
  let html =
    '<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>';
  for (const f of fortunes) {
    html += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  }
  return `${html}</table></body></html>`;
}

/** The Content-Type of the fortunes page. */
export const HTML_TYPE = 'text/html; charset=utf-8';
