import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './servers.ts';

/** Where and with what a run was made. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  /** The 1-minute load average when the run started: a busy machine gives lower numbers. */
  loadAverage: number;
}

/** The runtime and the peers' versions. */
export interface RuntimeInfo {
  node: string;
  v8: string;
  packages: Record<string, string>;
}

/** This machine. */
export function machineInfo(): MachineInfo {
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

const PEERS = ['fastify', 'hono', '@hono/node-server', 'express', 'pg', 'lru-cache', 'find-my-way'];

/** Node, V8 and the installed versions of the peers and shared libraries. */
export function runtimeInfo(): RuntimeInfo {
  const packages: Record<string, string> = {};
  for (const name of PEERS) {
    try {
      // Read the file: some packages' export maps hide their package.json from require().
      const pkg = JSON.parse(
        readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      );
      packages[name] = (pkg as { version: string }).version;
    } catch {
      packages[name] = 'not installed';
    }
  }
  return { node: process.versions.node, v8: process.versions.v8, packages };
}

/** The checked-out commit, and whether the work tree has changes on top of it. */
export function commitInfo(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
    })
      .toString()
      .trim();
    return { commit, dirty: status !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

/** Cores for the server and the load generator: different ones when there are two or more. */
export interface CpuPlan {
  /** taskset list for the server, or null (not pinned). */
  server: string | null;
  /** taskset list for the load generator, or null. */
  load: string | null;
}

/**
 * The load generator gets core 0, the server the rest. Every server variant gets the same cores,
 * so a multi-worker server has the same CPU budget as a single process.
 */
export function planCpus(cores: number, pin: boolean, tasksetAvailable: boolean): CpuPlan {
  if (!pin || !tasksetAvailable || cores < 2) return { server: null, load: null };
  return { server: cores === 2 ? '1' : `1-${cores - 1}`, load: '0' };
}

/** Whether `taskset` can pin here. */
export function tasksetWorks(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The open-file limit processes started through `ulimit -n $(ulimit -Hn)` get. */
export function hardFileLimit(): number {
  try {
    return Number(execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim());
  } catch {
    return Number.NaN;
  }
}

/** A database URL without its password, for the results file. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'invalid URL';
  }
}
