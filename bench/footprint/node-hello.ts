/** The footprint bench's raw node:http hello server (no framework), on $PORT. */
import { createServer } from 'node:http';

const body = JSON.stringify({ message: 'Hello, World!' });
const server = createServer((req, res) => {
  if (req.url === '/json') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  } else {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 13 });
    res.end('Hello, World!');
  }
});
// Idle keep-alive connections stay open as long as under Peregrine's default (--keep-alive 75 s).
server.keepAliveTimeout = 75_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
