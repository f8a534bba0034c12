import { request } from 'node:http';
import type { Reply } from './serve-process.ts';

/**
 * One HTTP request on loopback with an optional JSON body, on a connection of its own: under
 * `peregrine serve` the master hands each new connection to the next worker, so consecutive
 * calls visit every worker in turn.
 */
export function requestJSON(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            pid: Number(res.headers['x-pid'] ?? 0),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
