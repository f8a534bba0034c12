import type { App } from '../app/app.ts';
import type { RunningServer, ServeOptions } from './serve/options.ts';
import { AppServer } from './serve/server.ts';

export { supportsReusePort } from './serve/listener.ts';
export type { RunningServer, ServeOptions, ServeStats } from './serve/options.ts';

/**
 * Serves an App in this process — on Peregrine's HTTP/1.1 engine, or on node:http with
 * `httpEngine: 'node'` — and resolves once every address listens: the worker side of
 * `peregrine serve`, and a whole server on its own. Runs the App's startup functions first; if
 * an address cannot be bound, runs its shutdown functions and rejects with a `BindError`.
 */
export async function serve(app: App, options: ServeOptions = {}): Promise<RunningServer> {
  await app.startup();
  // An App served again after an earlier serve() was closed answers with keep-alive again.
  app.draining = false;
  const server = new AppServer(app, options);
  try {
    await server.listen();
  } catch (err) {
    await app.shutdown().catch(() => {});
    throw err;
  }
  return server;
}
