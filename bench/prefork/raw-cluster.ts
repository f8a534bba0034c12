/** The raw baseline: node:cluster with N workers answering /json and /plaintext on node:http. */
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8100);
const workers = Number(process.argv[3] ?? 2);
if (cluster.isPrimary) {
  let up = 0;
  cluster.on('listening', () => {
    if (++up === workers) process.stdout.write(`listening ${port}\n`);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  createServer((req, res) => {
    if (req.url === '/json') {
      const body = JSON.stringify({ message: 'Hello, World!' });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    } else {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 13 });
      res.end('Hello, World!');
    }
  }).listen({ port, host: '127.0.0.1' });
}
