import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Address } from '../settings/setting.ts';
import { parseAppReference } from '../worker/load-app.ts';

/** The worker entry point next to this file (`.ts` in the source tree, `.js` when built). */
export function workerEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../worker/main${ext}`, import.meta.url));
}

/** Whether loading a module needs `--experimental-strip-types` in this runtime. */
export function needsStripTypes(module: string): boolean {
  const features = process.features as { typescript?: unknown };
  return /\.[mc]?ts$/.test(module) && !features.typescript;
}

/** Whether Node flags (or `NODE_OPTIONS`) already size the young generation. */
function sizesYoungGeneration(flags: readonly string[]): boolean {
  return flags.some((f) => /^--max[-_](semi[-_]space[-_]size|heap[-_]size)(=|$)/.test(f));
}

/**
 * The V8 flags that cap a worker's young generation at `semiSpaceMiB` per semi-space (0: V8's
 * default), unless the user sized it already through Node's flags or `NODE_OPTIONS`.
 */
export function youngGenerationFlags(
  semiSpaceMiB: number,
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): string[] {
  if (semiSpaceMiB <= 0) return [];
  if (sizesYoungGeneration(execArgv) || sizesYoungGeneration(nodeOptions.split(/\s+/))) return [];
  return [`--max-semi-space-size=${semiSpaceMiB}`];
}

/**
 * The Node flags of a worker: the master's own (so `--conditions`, `--import` hooks and memory
 * flags carry over), the cap on its young generation (`--young-generation`), plus type stripping
 * when the App is TypeScript and this Node needs the flag (22.12–23.5).
 */
export function workerExecArgv(app: string, semiSpaceMiB = 0): string[] {
  const argv = [...process.execArgv, ...youngGenerationFlags(semiSpaceMiB)];
  const { module } = parseAppReference(app);
  if (needsStripTypes(module) && !argv.includes('--experimental-strip-types')) {
    argv.push('--experimental-strip-types');
  }
  return argv;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Replaces port 0 with a free port, once, before any worker listens, for `--reuse-port`: each
 * worker binds its own socket there, so port 0 would give each a different port.
 */
export async function resolvePorts(binds: readonly Address[]): Promise<Address[]> {
  const out: Address[] = [];
  for (const b of binds) {
    out.push('port' in b && b.port === 0 ? { host: b.host, port: await freePort(b.host) } : b);
  }
  return out;
}
