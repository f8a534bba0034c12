/**
 * The single-process baseline: the example App on `serve()` in one process (no master). It gets
 * the same App defaults a `peregrine serve` worker applies (request timeout, body limit, request
 * telemetry), so the comparison isolates the process model; `RT=0` turns the request deadline off.
 */
import { setServerDefaults } from '../../src/app/server-defaults.ts';
import { serve } from '../../src/server/serve.ts';
// As in a worker: telemetry is registered before the App is built.
import '../../src/telemetry/index.ts';

const port = Number(process.argv[2] ?? 8100);
setServerDefaults({ requestTimeout: Number(process.env.RT ?? 30_000), bodyLimit: 1024 * 1024 });
const { default: app } = await import('../../examples/hello/app.ts');
const server = await serve(app, { port, host: '127.0.0.1' });
process.stdout.write(`listening ${server.address.port}\n`);
process.on('SIGTERM', () => {
  void server.close(1000).then(() => process.exit(0));
});
