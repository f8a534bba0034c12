import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { groupUsage, type ProcessUsage } from './cpu-usage.ts';
import { wrapCommand } from './load.ts';

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** How to start one server process. */
export interface LaunchSpec {
  /** Executable (usually this Node). */
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Cores (taskset list) or null. */
  cpus: string | null;
  /** Where its stdout and stderr go. */
  logFile: string;
}

/** A running benchmark server. */
export interface ServerProcess {
  readonly pid: number;
  /** CPU and memory of every process in its process group (the server and its workers). */
  usage(): Promise<ProcessUsage>;
  /** Whether it is still running. */
  readonly alive: boolean;
  /** SIGTERM to the group, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a server in its own process group (so workers are stopped with it), pinned if asked. */
export function launch(spec: LaunchSpec): ServerProcess {
  const cmd = wrapCommand(spec.command, spec.args, spec.cpus);
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(cmd.file, cmd.args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // Already gone.
    }
  };
  return {
    pid,
    get alive() {
      return !exited;
    },
    usage: () => groupUsage(pid),
    async stop(graceMs = 5000) {
      if (!exited) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      }
      // Workers of a crashed primary may linger in the group.
      signalGroup('SIGKILL');
      log.end();
    },
  };
}

/** One GET over a fresh connection; resolves to the status, or rejects on a socket error. */
export function probe(url: string, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** Waits until the server answers `url` with 200, or fails when it exits or time runs out. */
export async function waitReady(
  server: ServerProcess,
  url: string,
  timeoutMs = 30_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    if (!server.alive) throw new Error('the server exited before it was ready');
    try {
      const status = await probe(url, 1000);
      if (status === 200) return;
      last = `status ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server was not ready within ${timeoutMs} ms (${last})`);
}
