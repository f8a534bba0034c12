/**
 * The entry point of a worker process (the master forks it through node:cluster). Everything it
 * needs arrives in one environment variable; see WorkerConfig.
 */
import { enableCompileCache } from 'node:module';
import { EXIT } from '../exit-codes.ts';
import { WORKER_CONFIG_ENV, type WorkerConfig } from './config.ts';

// PERF: V8's on-disk code cache (Node's default location, or NODE_COMPILE_CACHE) roughly halves
// the time a replacement worker takes to load Peregrine and the App; that time is how long a
// crashed worker's share of the node is missing. It must be on before the imports below.
if (process.env.NODE_DISABLE_COMPILE_CACHE === undefined) enableCompileCache?.();

const raw = process.env[WORKER_CONFIG_ENV];
if (raw === undefined) {
  process.stderr.write('peregrine worker: started without its configuration\n');
  process.exit(EXIT.USAGE);
}
delete process.env[WORKER_CONFIG_ENV];
const config = JSON.parse(raw) as WorkerConfig;
const { WorkerRuntime } = await import('./runtime.ts');
// The worker sides of the master's extensions register themselves on import.
for (const module of config.modules ?? []) await import(module);
await new WorkerRuntime(config).run();
