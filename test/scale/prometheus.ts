import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/prometheus.ts';
import { eventually } from '../helpers/wait.ts';
import { own } from './netns.ts';

// A real Prometheus run from deploy/prometheus/ (prometheus.yml, rules.yml) with only the
// intervals shortened to 1 s; its targets come from a file (file-based discovery), as they
// would from whatever deploys the nodes.

const DEPLOY = new URL('../../deploy/prometheus/', import.meta.url).pathname;

/** One sample of an instant vector. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A running Prometheus. */
export interface FleetPrometheus {
  readonly base: string;
  /** Rewrites the discovery file with these `host:port` targets. */
  setTargets(targets: string[]): void;
  /** An instant query, at `time` (s since epoch) or now. */
  query(q: string, time?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus in `dir` (its storage and config go there). */
export async function startFleetPrometheus(dir: string): Promise<FleetPrometheus> {
  const conf = join(dir, 'prometheus');
  mkdirSync(join(conf, 'targets'), { recursive: true });
  const yml = readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8')
    .replace(/scrape_interval: \S+/g, 'scrape_interval: 1s')
    .replace(/evaluation_interval: \S+/g, 'evaluation_interval: 1s')
    .replace(/refresh_interval: \S+/g, 'refresh_interval: 1s');
  writeFileSync(join(conf, 'prometheus.yml'), yml);
  copyFileSync(join(DEPLOY, 'rules.yml'), join(conf, 'rules.yml'));
  const setTargets = (targets: string[]) => {
    const tmp = join(conf, 'targets', '.nodes.json.tmp');
    writeFileSync(tmp, JSON.stringify([{ targets, labels: { service: 'scale-test' } }]));
    // Renamed into place so Prometheus never reads half a file.
    renameSync(tmp, join(conf, 'targets', 'nodes.json'));
  };
  setTargets([]);
  const port = await freePort();
  const proc: ChildProcess = own(
    spawn(
      'prometheus',
      [
        `--config.file=${join(conf, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(conf, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let log = '';
  proc.stderr!.on('data', (c: Buffer) => {
    log = (log + c.toString()).slice(-20_000);
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  try {
    await eventually(
      async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
        return fetch(`${base}/-/ready`).then(
          (r) => r.ok || undefined,
          () => undefined,
        );
      },
      30_000,
      'prometheus is ready',
      200,
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return {
    base,
    setTargets,
    async query(q, time) {
      const params = new URLSearchParams({ query: q });
      if (time !== undefined) params.set('time', String(time));
      const r = await fetch(`${base}/api/v1/query?${params}`);
      const body = (await r.json()) as {
        status: string;
        error?: string;
        data: { result: PromSample[] };
      };
      if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
      return body.data.result;
    },
    stop,
  };
}
