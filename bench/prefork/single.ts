/** The single-process baseline: the example App on `serve()` in one process (no master). */
import { serve } from 'peregrine/server';
import app from '../../examples/hello/app.ts';

const port = Number(process.argv[2] ?? 8100);
const server = await serve(app, { port, host: '127.0.0.1' });
process.stdout.write(`listening ${server.address.port}\n`);
process.on('SIGTERM', () => {
  void server.close(1000).then(() => process.exit(0));
});
