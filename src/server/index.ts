/** Serving an App: a single-process server now; the pre-fork process model builds on it. */
export { type RunningServer, type ServeOptions, serve, supportsReusePort } from './serve.ts';
export { Topology, topology } from './topology.ts';
