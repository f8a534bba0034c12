import { serve } from 'peregrine/server';
// Every request measured, as under peregrine serve: request telemetry in one process is on once
// peregrine/telemetry is loaded, before the App is built (this import runs before ./app.ts).
import 'peregrine/telemetry';
import { readConfig } from '../common/config.ts';
import app from './app.ts';

/** Peregrine in one process: `serve()` from peregrine/server, the way a worker runs it. */
const config = readConfig();
const running = await serve(app, {
  host: config.host,
  port: config.port,
  httpEngine: process.env.PEREGRINE_HTTP_ENGINE === 'node' ? 'node' : 'peregrine',
});
const stop = () => void running.close(5000).finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
