import { type ChildProcess, spawn } from 'node:child_process';
import type { Agent } from 'node:http';
import { request } from 'node:http';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

/** One parsed log line of the server (`raw` holds lines that are not JSON). */
export interface LogLine {
  msg?: string;
  level?: string;
  role?: string;
  worker?: number;
  workerPid?: number;
  time?: string;
  raw?: string;
  /** When the test process read the line (ms since epoch). */
  seenAt: number;
  [key: string]: unknown;
}

/** A `peregrine serve` process under test. */
export interface ServeProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The service port (from the `listening` log line). */
  readonly port: number;
  /** The admin port (from the `admin listening` log line). */
  readonly adminPort: number;
  /** Every log line so far. */
  readonly logs: LogLine[];
  /** Resolves when the master exits. */
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  /** Waits for a log line matching `match` (searching from line `from`). */
  waitForLog(
    match: (line: LogLine) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<LogLine>;
  /** Waits until `n` workers have reported ready since log line `from`. */
  waitForReady(n: number, timeoutMs?: number, from?: number): Promise<void>;
  /** Sends a signal to the master. */
  signal(signal: NodeJS.Signals): void;
  /** Pids of workers spawned and not yet exited, per the logs. */
  workerPids(): number[];
  /** Every worker pid ever spawned. */
  allWorkerPids(): number[];
  /** Stops the master (TERM, then KILL) and any worker left over. */
  stop(): Promise<void>;
}

/** Options of `startServe`. */
export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Wait for the first worker to be ready (default true; never with `--log-file`). */
  waitReady?: boolean;
  timeoutMs?: number;
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `peregrine serve` with the given arguments (loopback, port 0, JSON logs by default). */
export async function startServe(
  args: string[],
  options: StartOptions = {},
): Promise<ServeProcess> {
  const defaults: string[] = [];
  if (!args.some((a) => a === '--bind' || a === '-b')) defaults.push('--bind', '127.0.0.1:0');
  if (!args.includes('--admin')) defaults.push('--admin', '127.0.0.1:0');
  if (!args.includes('--log-format')) defaults.push('--log-format', 'json');
  const proc = spawn(
    process.execPath,
    ['--conditions=peregrine-source', BIN, 'serve', ...args, ...defaults],
    {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      if (text.trim() === '') continue;
      let line: LogLine;
      try {
        line = { ...(JSON.parse(text) as object), seenAt: Date.now() } as LogLine;
      } catch {
        line = { raw: text, seenAt: Date.now() };
      }
      logs.push(line);
      for (const w of waiters) w();
    }
  };
  proc.stderr!.on('data', onData);
  proc.stdout!.on('data', onData);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>(
    (resolve) => {
      proc.once('exit', (code, signal) => {
        // Set before the waiters look, so one waiting for a line that never came fails now.
        done = true;
        for (const w of waiters) w();
        resolve({ code, signal, at: Date.now() });
      });
    },
  );

  const waitForLog = (
    match: (line: LogLine) => boolean,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < logs.length; i++) {
          if (match(logs[i]!)) {
            cleanup();
            resolve(logs[i]!);
            return;
          }
        }
        if (done) {
          cleanup();
          reject(new Error(`server exited before the expected log line\n${tail(logs)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for a log line\n${tail(logs)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const spawned = () =>
    logs.filter((l) => l.msg === 'worker spawned').map((l) => l.workerPid as number);
  const server: ServeProcess = {
    proc,
    pid: proc.pid!,
    port: 0,
    adminPort: 0,
    logs,
    exited,
    waitForLog,
    async waitForReady(n, timeoutMs = 10_000, from = 0) {
      const count = () => logs.slice(from).filter((l) => l.msg === 'worker ready').length;
      await waitForLog(() => count() >= n, timeoutMs, from);
    },
    signal(signal) {
      if (!done) proc.kill(signal);
    },
    allWorkerPids: spawned,
    workerPids() {
      const gone = new Set(
        logs
          .filter((l) => l.msg === 'worker exited' || /failed to boot|died/.test(l.msg ?? ''))
          .map((l) => l.workerPid as number),
      );
      return spawned().filter((pid) => !gone.has(pid));
    },
    async stop() {
      if (!done) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      for (const pid of spawned()) {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    },
  };
  if (args.includes('--log-file')) return server;
  try {
    const admin = await waitForLog((l) => l.msg === 'admin listening', options.timeoutMs ?? 15_000);
    (server as { adminPort: number }).adminPort = Number(String(admin.address).split(':').pop());
    if (options.waitReady !== false) {
      const listening = await waitForLog((l) => l.msg === 'listening', options.timeoutMs ?? 15_000);
      const first = (listening.addresses as string[])[0]!;
      (server as { port: number }).port = Number(first.split(':').pop());
    }
  } catch (err) {
    // A server expected to halt may exit before its admin listener starts (the admin address
    // itself may be what is wrong).
    if (done && options.waitReady === false) return server;
    await server.stop();
    throw err;
  }
  return server;
}

/** When the server wrote a log line (its own timestamp, ms since epoch). */
export function loggedAt(line: LogLine): number {
  return line.time === undefined ? line.seenAt : Date.parse(line.time);
}

/** The last lines of a log, for failure messages. */
export function tail(logs: readonly LogLine[], n = 30): string {
  return logs
    .slice(-n)
    .map((l) => l.raw ?? JSON.stringify({ ...l, seenAt: undefined }))
    .join('\n');
}

/** A response read whole. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The worker that answered (the fixture's `x-pid`). */
  pid: number;
}

/** One HTTP GET on loopback. */
export function get(
  port: number,
  path: string,
  options: { agent?: Agent | false; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: options.agent ?? false,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            pid: Number(res.headers['x-pid'] ?? 0),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
