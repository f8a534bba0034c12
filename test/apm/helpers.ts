import { type ChildProcess, spawn } from 'node:child_process';
import { eventually } from '../helpers/wait.ts';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

/** A `peregrine apm` process under test. */
export interface ApmProcess {
  proc: ChildProcess;
  otlpPort: number;
  apiPort: number;
  output: string[];
  /** GET a JSON document of the API. */
  api<T>(path: string): Promise<{ status: number; body: T }>;
  /** SIGTERM; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `peregrine apm` with the given arguments and waits for its `apm listening` line. */
export async function startApm(args: string[]): Promise<ApmProcess> {
  const proc = spawn(process.execPath, ['--conditions=peregrine-source', BIN, 'apm', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let listening: { otlpPort: number; apiPort: number } | undefined;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      output.push(line);
      if (line.includes('"apm listening"')) listening = JSON.parse(line) as typeof listening;
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await eventually(
    () => {
      if (gone) throw new Error(`peregrine apm exited:\n${output.join('\n')}`);
      return listening;
    },
    20_000,
    'peregrine apm listening',
    20,
  );
  const { otlpPort, apiPort } = listening!;
  return {
    proc,
    otlpPort,
    apiPort,
    output,
    async api<T>(path: string) {
      const res = await fetch(`http://127.0.0.1:${apiPort}${path}`);
      return { status: res.status, body: (await res.json()) as T };
    },
    async stop() {
      if (!gone) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** The map as the API gives it. */
export interface MapDoc {
  nodes: { id: string; kind: string; calls: number; errors: number; health: string }[];
  edges: {
    source: string;
    target: string;
    calls: number;
    errors: number;
    errorRate: number;
    p95Ms: number | null;
    health: string;
  }[];
}

/**
 * Starts test/fixtures/apm/otel-service.ts (node:http + the OpenTelemetry Node SDK, no Peregrine)
 * as `name`, exporting OTLP/protobuf with gzip to `otlp`; resolves once it listens.
 */
export async function startOtelService(otlp: string, name = 'pricing') {
  const proc = spawn(process.execPath, ['test/fixtures/apm/otel-service.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      OTEL_SERVICE_NAME: name,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    },
  });
  let out = '';
  proc.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    proc.once('exit', () => reject(new Error(`the OTel service exited:\n${out}`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    port,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
