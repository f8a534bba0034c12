import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './wait.ts';

/** A free loopback port (bound and released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A real Prometheus server (Debian's `prometheus`) scraping one target every second. */
export async function startPrometheus(target: string): Promise<{
  query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  api(path: string): Promise<unknown>;
  stop(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-prom-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: peregrine\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr!.on('data', (c: Buffer) => {
    log = (log + c.toString()).slice(-20_000);
  });
  const base = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
      return fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    30_000,
    'prometheus is ready',
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${log}`);
  });
  const api = async (path: string): Promise<unknown> => {
    const r = await fetch(`${base}${path}`);
    const body = (await r.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
    return body.data;
  };
  return {
    api,
    async query(q) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(q)}`)) as {
        result: Array<{ metric: Record<string, string>; value: [number, string] }>;
      };
      return data.result;
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(undefined) : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
