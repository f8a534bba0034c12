/** Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the time goes, by function. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/** Time spent in one function. */
export interface FunctionCost {
  /** `name file:line`. */
  name: string;
  /** The script it is in (empty for the engine's own entries such as `(garbage collector)`). */
  file: string;
  /** Share of all samples spent in the function itself. */
  self: number;
  /** Share of all samples with the function on the stack. */
  total: number;
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const i = url.indexOf('/node_modules/');
  if (i !== -1) return url.slice(i + 1);
  const s = url.lastIndexOf('/src/');
  if (s !== -1) return url.slice(s + 1);
  const b = url.lastIndexOf('/bench/');
  if (b !== -1) return url.slice(b + 1);
  return url.replace(/^file:\/\//, '');
}

function label(node: ProfileNode): string {
  const f = node.callFrame;
  const name = f.functionName || '(anonymous)';
  const where = shortUrl(f.url);
  return where ? `${name} ${where}:${f.lineNumber + 1}` : name;
}

function fileOf(node: ProfileNode): string {
  return shortUrl(node.callFrame.url);
}

/**
 * The profile with only the samples taken at or after `fromUs` (V8's clock: microseconds of the
 * monotonic clock, the one `process.hrtime` reads), e.g. to leave start-up and warm-up out.
 */
export function profileFrom(profile: CpuProfile, fromUs: number): CpuProfile {
  const { samples, timeDeltas } = profile;
  if (samples === undefined || timeDeltas === undefined) return profile;
  const kept: number[] = [];
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    if (t >= fromUs) kept.push(samples[i]!);
  }
  return { ...profile, samples: kept, startTime: Math.max(profile.startTime, fromUs) };
}

/** Self and inclusive time of every function, largest self time first. */
export function summarizeProfile(profile: CpuProfile): FunctionCost[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map<number, number>();
  if (profile.samples && profile.samples.length > 0) {
    for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  } else {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
  }
  let all = 0;
  for (const v of hits.values()) all += v;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, string>();
  for (const n of profile.nodes) files.set(label(n), fileOf(n));
  for (const [id, count] of hits) {
    const node = byId.get(id);
    if (node === undefined || count === 0) continue;
    const name = label(node);
    self.set(name, (self.get(name) ?? 0) + count);
    // Count each function once per stack, however deep the recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + count);
    }
  }
  const out: FunctionCost[] = [];
  for (const [name, t] of total) {
    out.push({
      name,
      file: files.get(name) ?? '',
      self: (self.get(name) ?? 0) / all,
      total: t / all,
    });
  }
  return out.sort((a, b) => b.self - a.self || b.total - a.total);
}

/** Self time grouped by file (node internals, each package, each source file). */
export function selfByFile(costs: readonly FunctionCost[]): Array<{ file: string; self: number }> {
  const m = new Map<string, number>();
  for (const c of costs) {
    const where = c.file || c.name;
    m.set(where, (m.get(where) ?? 0) + c.self);
  }
  return [...m].map(([file, self]) => ({ file, self })).sort((a, b) => b.self - a.self);
}

/** A printable report: top functions by self time, then by inclusive time, then by file. */
export function formatProfile(costs: readonly FunctionCost[], top = 25): string {
  const pct = (v: number) => `${(v * 100).toFixed(1).padStart(5)}%`;
  const lines = ['self   total  function'];
  for (const c of costs.slice(0, top)) lines.push(`${pct(c.self)} ${pct(c.total)}  ${c.name}`);
  lines.push('', 'inclusive (on the stack)');
  const byTotal = [...costs].sort((a, b) => b.total - a.total);
  for (const c of byTotal.slice(0, top)) lines.push(`${pct(c.total)}  ${c.name}`);
  lines.push('', 'self time by file');
  for (const f of selfByFile(costs).slice(0, 15)) lines.push(`${pct(f.self)}  ${f.file}`);
  return lines.join('\n');
}
