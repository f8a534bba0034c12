/** One media range of an Accept header. */
interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  specificity: number;
  order: number;
}

/** The essence of a media type: `Application/JSON; charset=utf-8` → `application/json`. */
export function mediaEssence(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Parses an Accept header into ranges, best first. */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  let order = 0;
  for (const part of header.split(',')) {
    const pieces = part.split(';');
    const essence = pieces[0]!.trim().toLowerCase();
    if (essence === '') continue;
    const slash = essence.indexOf('/');
    const type = slash === -1 ? essence : essence.slice(0, slash);
    const subtype = slash === -1 ? '*' : essence.slice(slash + 1);
    let q = 1;
    for (let i = 1; i < pieces.length; i++) {
      const [k, v] = pieces[i]!.split('=');
      if (k?.trim().toLowerCase() === 'q' && v !== undefined) {
        const n = Number(v.trim());
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
      }
    }
    const specificity = (type === '*' ? 0 : 2) + (subtype === '*' ? 0 : 1);
    ranges.push({ type, subtype, q, specificity, order: order++ });
  }
  return ranges.sort((a, b) => b.q - a.q || b.specificity - a.specificity || a.order - b.order);
}

/** The quality the ranges give a media type (the most specific matching range decides). */
function quality(ranges: readonly MediaRange[], essence: string): number {
  const slash = essence.indexOf('/');
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  let best: MediaRange | undefined;
  for (const r of ranges) {
    const matches =
      (r.type === '*' || r.type === type) && (r.subtype === '*' || r.subtype === subtype);
    if (matches && (best === undefined || r.specificity > best.specificity)) best = r;
  }
  return best === undefined ? 0 : best.q;
}

/**
 * Picks the offered type the Accept header likes best (ties go to the earlier offer); undefined
 * when none is acceptable. No header accepts anything.
 */
export function negotiate(
  accept: string | undefined,
  offers: readonly string[],
): string | undefined {
  if (accept === undefined || accept === '' || accept === '*/*') return offers[0];
  const ranges = parseAccept(accept);
  let bestOffer: string | undefined;
  let bestQ = 0;
  for (const offer of offers) {
    const q = quality(ranges, mediaEssence(offer));
    if (q > bestQ) {
      bestQ = q;
      bestOffer = offer;
    }
  }
  return bestOffer;
}
