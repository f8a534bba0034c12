/**
 * What asking the master costs, to choose how workers share a node budget: a cluster of four
 * workers, each sending the master a lease-sized message and waiting for its answer, one at a
 * time (the latency a request would pay if it asked per request) and all at once (how many
 * asks per second the master's IPC carries). SharedArrayBuffer is no alternative: node:cluster
 * workers are processes, and a SharedArrayBuffer is shared only among threads of one process.
 *
 *   flock /tmp/peregrine-load.lock npx node --conditions=peregrine-source bench/node-budget-ipc.ts
 */
import cluster from 'node:cluster';

const WORKERS = 4;
const N = 3000;

interface Ask {
  t: 'ask';
  id: number;
}
interface Report {
  t: 'report';
  text: string;
}

if (cluster.isPrimary) {
  let done = 0;
  for (let i = 0; i < WORKERS; i++) {
    const w = cluster.fork();
    w.on('message', (m: Ask | Report) => {
      if (m.t === 'ask') {
        w.send({ t: 'grant', id: m.id, granted: 10, remaining: 90, waitMs: 0, resetMs: 100 });
      } else {
        console.log(m.text);
        if (++done === WORKERS) process.exit(0);
      }
    });
  }
} else {
  const waiting = new Map<number, () => void>();
  let next = 0;
  process.on('message', (m: { id: number }) => {
    waiting.get(m.id)?.();
    waiting.delete(m.id);
  });
  const policy = { id: 'default:token-bucket:100:1000:100', algorithm: 'token-bucket' };
  const ask = () =>
    new Promise<void>((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      process.send!({ t: 'ask', id, policy, key: 'ip:127.0.0.1', want: 10, returned: 0 });
    });
  for (let i = 0; i < 200; i++) await ask();
  const lat: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    await ask();
    lat.push(performance.now() - s);
  }
  const sequential = performance.now() - t0;
  lat.sort((a, b) => a - b);
  t0 = performance.now();
  await Promise.all(Array.from({ length: N }, ask));
  const concurrent = performance.now() - t0;
  const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
  process.send!({
    t: 'report',
    text:
      `worker ${cluster.worker!.id}: round trip p50 ${us(lat[N >> 1]!)} p99 ${us(lat[Math.floor(N * 0.99)]!)}; ` +
      `${((N / sequential) * 1000).toFixed(0)}/s one at a time, ${((N / concurrent) * 1000).toFixed(0)}/s all at once`,
  });
}
