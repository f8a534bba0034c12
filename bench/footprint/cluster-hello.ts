/**
 * The footprint bench's floor for a pre-fork server: a bare node:cluster primary and workers
 * running the raw node:http hello server, $WORKERS of them, on $PORT.
 */
import cluster from 'node:cluster';

if (cluster.isPrimary) {
  for (let i = 0; i < Number(process.env.WORKERS ?? 1); i++) cluster.fork();
} else {
  await import('./node-hello.ts');
}
