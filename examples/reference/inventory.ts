/**
 * inventory: stock levels, run by "another team" on plain Node (node:http) instrumented by the
 * OpenTelemetry Node SDK, with no Peregrine inside: it shows on the apm's map and in its traces
 * like the Peregrine services, because any OTLP sender does.
 *
 * `GET /stock/{sku}` → `{ sku, available, warehouse }`; anything else 404. Listens on
 * `127.0.0.1:$PORT` (0 picks a free port) and logs `{"msg":"listening","port":N}` on stdout. The
 * SDK reads the standard variables: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_BSP_SCHEDULE_DELAY, OTEL_METRICS_EXPORTER…
 */
import { createRequire } from 'node:module';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

const sdk = new NodeSDK({ instrumentations: [new HttpInstrumentation()] });
sdk.start();
// Required (not imported) after start(), so the instrumentation's require hook patches it.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

const WAREHOUSES = ['north', 'south', 'east'];

/** A stable stock level per SKU. */
function stockOf(sku: string): { available: number; warehouse: string } {
  let h = 0;
  for (const c of sku) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return { available: h % 40, warehouse: WAREHOUSES[h % WAREHOUSES.length]! };
}

const server = http.createServer((req, res) => {
  const match =
    req.method === 'GET' ? /^\/stock\/([A-Z0-9][A-Z0-9-]{0,39})$/.exec(req.url ?? '') : null;
  if (match === null) {
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ title: 'Not Found', status: 404 }));
    return;
  }
  const sku = match[1]!;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ sku, ...stockOf(sku) }));
});
server.listen(Number(process.env.PORT ?? 8083), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address() as import('node:net').AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: address.port })}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`${JSON.stringify({ msg: 'cannot listen', error: err.message })}\n`);
  process.exit(5);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  // Export what is still batched, then exit.
  sdk.shutdown().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
