// Throughput of 1, 2 and 3 nodes behind a real balancer, measured side by side in one run
// (`npm run test:scale`; options below). Not part of `npm test`: it takes a few minutes and
// loads the machine.
//
//   npm run test:scale -- [--balancer haproxy|nginx] [--rounds 2] [--seconds 6]
//                         [--connections 32] [--quota 0.1]
//
// How the 2 cores are split (and what that means): node k (0-based) is pinned with taskset to
// cpu k mod 2, so 1 node has one core, 2 nodes one core each, and the third node shares cpu 0
// with the first; the balancer and wrk are not pinned and compete with the nodes for the same
// two cores. That is the "pinned" series: on 2 cores it cannot scale past 2 nodes, and even
// 1 → 2 is capped by the CPU wrk and the balancer need. The "quota" series adds a CFS quota per
// node (a cgroup v1 cpu controller: --quota of one core each, 0.1 by default), so every node
// is a small machine of its own and three of them (0.3 core) still leave room for the balancer
// and wrk: that series shows how the balancer spreads load over nodes, which is the curve a
// fleet of real machines follows. Rounds alternate the node counts so drift of the shared
// machine falls on all of them alike.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { type Balancer, startHAProxy, startNginx } from './balancers.ts';
import { Fleet, type Node } from './netns.ts';

const { values } = parseArgs({
  options: {
    balancer: { type: 'string', default: 'haproxy' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '6' },
    connections: { type: 'string', default: '32' },
    quota: { type: 'string', default: '0.1' },
  },
});
const BALANCER = values.balancer === 'nginx' ? 'nginx' : 'haproxy';
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const QUOTA = Number(values.quota);

// cgroup v1's cpu controller (this machine), or the unified v2 hierarchy.
const V1 = existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us');
const CGROUP_ROOT = V1 ? '/sys/fs/cgroup/cpu' : '/sys/fs/cgroup';

interface Run {
  series: 'pinned' | 'quota';
  nodes: number;
  round: number;
  rps: number;
  p99ms: number;
  non2xx: number;
  socketErrors: number;
}

/** Parses wrk's summary (with --latency). */
function parseWrk(out: string): Omit<Run, 'series' | 'nodes' | 'round'> {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const unit = p99?.[2] === 'us' ? 0.001 : p99?.[2] === 's' ? 1000 : 1;
  const p99ms = p99 === null ? Number.NaN : Number(p99[1]) * unit;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const e = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = e === null ? 0 : e.slice(1).reduce((a, b) => a + Number(b), 0);
  return { rps, p99ms, non2xx, socketErrors };
}

function wrk(port: number, seconds: number): string {
  return execFileSync(
    'wrk',
    [
      '-t2',
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      '--latency',
      '--timeout',
      '5s',
      `http://127.0.0.1:${port}/json`,
    ],
    { encoding: 'utf8' },
  );
}

/** Removes quota cgroups of runs whose process is gone. */
function sweepCgroups(): void {
  for (const name of readdirSync(CGROUP_ROOT)) {
    const m = /^peregrine-([0-9a-z]+)x\d+-node\d+$/.exec(name);
    if (m === null) continue;
    try {
      process.kill(Number.parseInt(m[1]!, 36), 0);
    } catch {
      try {
        rmdirSync(`${CGROUP_ROOT}/${name}`);
      } catch {
        // tasks still exiting
      }
    }
  }
}

function cgroupFor(fleet: Fleet, node: Node): string {
  return `${CGROUP_ROOT}/peregrine-${fleet.id}-${node.name}`;
}

/** Moves every process of the node's namespace into its quota cgroup, or back to the root. */
function placeNode(fleet: Fleet, node: Node, quota: boolean): void {
  const target = quota ? cgroupFor(fleet, node) : CGROUP_ROOT;
  const pids = execFileSync('ip', ['netns', 'pids', node.ns], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  for (const pid of pids) writeFileSync(`${target}/cgroup.procs`, pid);
}

async function main(): Promise<void> {
  const release = await acquireLoadLock();
  sweepCgroups();
  const fleet = new Fleet({ cpus: (k) => String(k % 2) });
  const groups: string[] = [];
  let lb: Balancer | undefined;
  try {
    for (let i = 0; i < 3; i++) fleet.addNode();
    await Promise.all(fleet.nodes.map((n) => fleet.start(n)));
    for (const node of fleet.nodes) {
      const dir = cgroupFor(fleet, node);
      mkdirSync(dir);
      groups.push(dir);
      const quota = Math.round(QUOTA * 100_000);
      if (V1) {
        writeFileSync(`${dir}/cpu.cfs_period_us`, '100000');
        writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota));
      } else {
        writeFileSync(`${dir}/cpu.max`, `${quota} 100000`);
      }
    }
    const runs: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const series of ['pinned', 'quota'] as const) {
        for (const node of fleet.nodes) placeNode(fleet, node, series === 'quota');
        const order = round % 2 === 0 ? [1, 2, 3] : [3, 2, 1];
        for (const n of order) {
          const servers = fleet.nodes.slice(0, n);
          lb =
            BALANCER === 'nginx'
              ? await startNginx({ dir: fleet.dir, servers })
              : await startHAProxy({ dir: fleet.dir, servers });
          wrk(lb.port, 2); // warm the pool and the nodes' JIT
          const run = { series, nodes: n, round, ...parseWrk(wrk(lb.port, SECONDS)) };
          runs.push(run);
          process.stderr.write(`${JSON.stringify(run)}\n`);
          await lb.stop();
          lb = undefined;
        }
      }
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 === 1
        ? s[(s.length - 1) / 2]!
        : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    const lines = [
      `${BALANCER}, wrk -t2 -c${CONNECTIONS} -d${SECONDS}s /json, ${ROUNDS} rounds (median), node k on cpu k mod 2; quota series: ${QUOTA} core per node`,
      '',
      '| series | nodes | requests/s | × 1 node | p99 ms | non-2xx | socket errors |',
      '| ------ | ----- | ---------- | -------- | ------ | ------- | ------------- |',
    ];
    for (const series of ['pinned', 'quota'] as const) {
      const base = median(
        runs.filter((r) => r.series === series && r.nodes === 1).map((r) => r.rps),
      );
      for (const n of [1, 2, 3]) {
        const rs = runs.filter((r) => r.series === series && r.nodes === n);
        const rps = median(rs.map((r) => r.rps));
        lines.push(
          `| ${series} | ${n} | ${Math.round(rps)} | ${(rps / base).toFixed(2)} | ${median(rs.map((r) => r.p99ms)).toFixed(1)} | ${rs.reduce((a, r) => a + r.non2xx, 0)} | ${rs.reduce((a, r) => a + r.socketErrors, 0)} |`,
        );
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await lb?.stop();
    for (const node of fleet.nodes) {
      try {
        placeNode(fleet, node, false);
      } catch {
        // the node is gone
      }
    }
    await fleet.close();
    for (const dir of groups) {
      try {
        rmdirSync(dir);
      } catch {
        // still has tasks: they are exiting
      }
    }
    await release();
  }
}

await main();
