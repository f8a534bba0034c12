import cluster from 'node:cluster';
import { readConfig } from './common/config.ts';
import { start } from './node-http.ts';

/**
 * Raw node:cluster: a primary forking `BENCH_WORKERS` workers that each run the raw node:http
 * listener (round-robin scheduling, Node's default on Linux). The reference for
 * `peregrine serve --workers N`.
 */
const { workers } = readConfig();

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  cluster.on('exit', (_worker, code) => {
    if (!stopping) {
      console.error(`worker exited with ${code}; stopping`);
      process.exit(1);
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  start(workers);
}
