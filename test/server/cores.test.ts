import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CpuProbe, cpuBudget } from '../../src/server/cores.ts';

function probe(cpus: number, files: Record<string, string>): CpuProbe {
  return { parallelism: () => cpus, read: (path) => files[path] };
}

test('no quota: the CPUs the process may run on', () => {
  assert.deepEqual(cpuBudget(probe(8, { '/proc/self/cgroup': '0::/\n' })), {
    cores: 8,
    limit: 8,
    source: 'cpus',
  });
  assert.deepEqual(
    cpuBudget(probe(8, { '/proc/self/cgroup': '0::/', '/sys/fs/cgroup/cpu.max': 'max 100000\n' })),
    { cores: 8, limit: 8, source: 'cpus' },
  );
});

test('cgroup v2: the smallest quota along the path, rounded up to whole cores', () => {
  const files = {
    '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
    '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000',
    '/sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000',
    '/sys/fs/cgroup/kubepods/cpu.max': '400000 100000',
  };
  assert.deepEqual(cpuBudget(probe(64, files)), { cores: 2, limit: 1.5, source: 'cgroup v2' });
  // A quota above the CPUs changes nothing.
  assert.deepEqual(cpuBudget(probe(1, files)), { cores: 1, limit: 1, source: 'cpus' });
});

test('cgroup v1: cfs_quota_us over cfs_period_us (-1: none)', () => {
  const v1 = (quota: string) => ({
    '/proc/self/cgroup': '4:memory:/x\n2:cpu,cpuacct:/docker/abc\n',
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': quota,
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
  });
  assert.deepEqual(cpuBudget(probe(16, v1('200000\n'))), {
    cores: 2,
    limit: 2,
    source: 'cgroup v1',
  });
  assert.deepEqual(cpuBudget(probe(16, v1('-1\n'))), { cores: 16, limit: 16, source: 'cpus' });
  assert.deepEqual(cpuBudget(probe(16, v1('50000'))), {
    cores: 1,
    limit: 0.5,
    source: 'cgroup v1',
  });
});

test('this machine: at least one core, never more than os.availableParallelism', async () => {
  const { availableParallelism } = await import('node:os');
  const b = cpuBudget();
  assert.ok(b.cores >= 1 && b.cores <= availableParallelism());
  assert.ok(b.limit > 0 && b.limit <= availableParallelism());
});
