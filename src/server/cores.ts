import { availableParallelism } from 'node:os';

// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { readFileSync } = process.getBuiltinModule('node:fs');

/** The CPU this process may use. */
export interface CpuBudget {
  /** Whole cores: the most workers that can each have one (at least 1). */
  cores: number;
  /** The CPU time it may use, in cores (a cgroup quota may make it fractional: 1.5). */
  limit: number;
  /** Where the figure came from. */
  source: 'cpus' | 'cgroup v2' | 'cgroup v1';
}

/** What `cpuBudget` reads; tests pass their own. */
export interface CpuProbe {
  /** CPUs the scheduler lets this process run on (`os.availableParallelism`). */
  parallelism(): number;
  /** A file's text, or undefined when it cannot be read. */
  read(path: string): string | undefined;
}

const system: CpuProbe = {
  parallelism: availableParallelism,
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/**
 * The cores available to this process: the CPUs it may run on (affinity, cpuset), lowered by a
 * CFS quota of its cgroup or any parent (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`), which is
 * how Kubernetes and Docker enforce a CPU limit. Node's `availableParallelism` sees the first
 * but not the second: a container limited to 2 CPUs on a 64-core host would count 64.
 */
export function cpuBudget(probe: CpuProbe = system): CpuBudget {
  const cpus = Math.max(1, probe.parallelism());
  let quota: number | undefined;
  let source: CpuBudget['source'] = 'cpus';
  const groups = parseCgroups(probe.read('/proc/self/cgroup') ?? '');
  const v2 = groups.get('');
  if (v2 !== undefined) {
    for (const dir of ancestors('/sys/fs/cgroup', v2)) {
      const q = parseCpuMax(probe.read(`${dir}/cpu.max`));
      if (q !== undefined && (quota === undefined || q < quota)) {
        quota = q;
        source = 'cgroup v2';
      }
    }
  }
  const v1 = groups.get('cpu') ?? groups.get('cpu,cpuacct') ?? groups.get('cpuacct,cpu');
  if (quota === undefined && v1 !== undefined) {
    for (const root of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
      for (const dir of ancestors(root, v1)) {
        const q = parseCfs(
          probe.read(`${dir}/cpu.cfs_quota_us`),
          probe.read(`${dir}/cpu.cfs_period_us`),
        );
        if (q !== undefined && (quota === undefined || q < quota)) {
          quota = q;
          source = 'cgroup v1';
        }
      }
    }
  }
  if (quota === undefined || quota >= cpus) return { cores: cpus, limit: cpus, source: 'cpus' };
  return { cores: Math.max(1, Math.ceil(quota - 1e-9)), limit: quota, source };
}

/** `/proc/self/cgroup` as controller list → path (`''` is the v2 unified hierarchy). */
function parseCgroups(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (m !== null) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The cgroup's directory and those of its parents, deepest first (a parent's quota binds too). */
function ancestors(root: string, path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '..');
  const dirs: string[] = [];
  for (let n = parts.length; n >= 0; n--) dirs.push([root, ...parts.slice(0, n)].join('/'));
  return dirs;
}

/** cgroup v2 `cpu.max`: `QUOTA PERIOD` or `max PERIOD`. */
function parseCpuMax(text: string | undefined): number | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text ?? '');
  if (m === null) return undefined;
  const period = Number(m[2]);
  return period > 0 ? Number(m[1]) / period : undefined;
}

/** cgroup v1 `cpu.cfs_quota_us` (-1: none) over `cpu.cfs_period_us`. */
function parseCfs(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota?.trim());
  const p = Number(period?.trim());
  if (!Number.isFinite(q) || q <= 0 || !Number.isFinite(p) || p <= 0) return undefined;
  return q / p;
}
