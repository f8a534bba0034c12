/** An OTLP sink for the benchmark: accepts and discards, counting bytes. */
import { createServer } from 'node:http';

let bytes = 0;
let requests = 0;
createServer((req, res) => {
  req.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
}).listen(Number(process.env.PORT ?? 4318), '127.0.0.1');
process.on('SIGTERM', () => {
  process.stdout.write(`sink: ${requests} requests, ${bytes} bytes\n`);
  process.exit(0);
});
