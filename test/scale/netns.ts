import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/wait.ts';

// Separate machines on one host: one Linux network namespace per node, each with its own
// address on a private bridge (10.77.S.0/24, S chosen free per run), the host side of the
// bridge being where the balancer and Prometheus run. Everything this file creates carries the
// run's id in its name and is removed on teardown, on process exit, and by the next run if this
// one was killed (`sweepStale`).

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;
const APP = new URL('./app.ts', import.meta.url).pathname;

/** The admin token of every node (the admin listener is bound to the node's own address). */
const ADMIN_TOKEN = 'scale-test-admin-token-0123456789';

/** The port every node serves on, and its admin port (as in deploy/haproxy/haproxy.cfg). */
export const SERVICE_PORT = 8000;
export const ADMIN_PORT = 9464;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Processes started beside the fleet (balancers, Prometheus): killed when this process exits,
// even on a signal, so a cancelled test leaves nothing running.
const owned = new Set<ChildProcess>();
const teardowns = new Set<() => void>();

function cleanupAll(): void {
  for (const teardown of teardowns) teardown();
  for (const proc of owned)
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

process.once('exit', cleanupAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    cleanupAll();
    process.kill(process.pid, signal);
  });
}

/** Kills `proc` when this process exits (normally or on a signal) if it still runs. */
export function own(proc: ChildProcess): ChildProcess {
  owned.add(proc);
  proc.once('exit', () => owned.delete(proc));
  return proc;
}

/** Whether this machine lets us create namespaces and bridges (root, iproute2). */
export function canCreateNamespaces(): boolean {
  try {
    ip('netns', 'list');
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

// Names: netns `prg-<id>-n<k>`, bridge `pg<id>b`, veth `pg<id>v<k>` (host) / `pg<id>p<k>` (node),
// with id = <pid base 36>x<seq>, short enough for the 15-character interface name limit.
const NAME = /^(?:prg-|pg)([0-9a-z]+)x(\d+)/;

/** Removes namespaces and links left by runs whose process is gone. */
export function sweepStale(): void {
  const owner = (name: string) => {
    const m = NAME.exec(name);
    return m === null ? undefined : Number.parseInt(m[1]!, 36);
  };
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = owner(name);
    if (pid !== undefined && !alive(pid)) {
      killNamespace(name);
      tryIp('netns', 'del', name);
    }
  }
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const name = line.split(':')[1]?.trim().split('@')[0] ?? '';
    const pid = owner(name);
    if (pid !== undefined && !alive(pid)) tryIp('link', 'del', name);
  }
}

function killNamespace(ns: string): void {
  let pids: string[] = [];
  try {
    pids = ip('netns', 'pids', ns).split('\n').filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

/** A free /24 under 10.77.0.0/16 (no address or route of this host in it). */
function freeSubnet(): number {
  const used = ip('-4', '-o', 'addr', 'show') + ip('-4', 'route', 'show');
  const start = process.pid % 250;
  for (let i = 0; i < 250; i++) {
    const s = (start + i) % 250;
    if (!used.includes(`10.77.${s}.`)) return s;
  }
  throw new Error('no free 10.77.S.0/24 subnet');
}

/** One `peregrine serve` in its namespace. */
export interface Node {
  readonly index: number;
  readonly name: string;
  readonly ns: string;
  readonly address: string;
  /** `address:8000`. */
  readonly target: string;
  /** The master's process, or undefined while stopped. */
  proc: ChildProcess | undefined;
  /** Log lines (JSON objects, or `{ raw }`) since the node was created, over every start. */
  readonly logs: Array<Record<string, unknown>>;
}

/** Options of a fleet. */
export interface FleetOptions {
  /** Extra `peregrine serve` arguments (default: one worker, a 3 s drain delay). */
  serveArgs?: string[];
  /** CPU list for `taskset -c` of node k (0-based), or undefined for no pinning. */
  cpus?: (index: number) => string | undefined;
  /** Environment for the nodes. */
  env?: NodeJS.ProcessEnv;
}

/** Nodes on a private bridge, each in its own namespace. */
export class Fleet {
  readonly id: string;
  readonly subnet: number;
  readonly bridge: string;
  /** The host's address on the bridge. */
  readonly gateway: string;
  readonly nodes: Node[] = [];
  /** A scratch directory for the run (configs, sockets); removed on teardown. */
  readonly dir: string;
  readonly #options: FleetOptions;
  #closed = false;
  readonly #onExit = () => this.#teardownSync();

  static #seq = 0;

  constructor(options: FleetOptions = {}) {
    sweepStale();
    this.#options = options;
    this.id = `${process.pid.toString(36)}x${Fleet.#seq++}`;
    this.subnet = freeSubnet();
    this.bridge = `pg${this.id}b`;
    this.gateway = `10.77.${this.subnet}.1`;
    this.dir = mkdtempSync(join(tmpdir(), `peregrine-scale-${this.id}-`));
    teardowns.add(this.#onExit);
    ip('link', 'add', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
  }

  /** Creates the namespace of a new node (not started). */
  addNode(): Node {
    const k = this.nodes.length;
    const ns = `prg-${this.id}-n${k}`;
    const host = `pg${this.id}v${k}`;
    const peer = `pg${this.id}p${k}`;
    const address = `10.77.${this.subnet}.${11 + k}`;
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('-n', ns, 'link', 'set', peer, 'name', 'eth0');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('link', 'set', host, 'master', this.bridge);
    ip('link', 'set', host, 'up');
    const node: Node = {
      index: k,
      name: `node${k + 1}`,
      ns,
      address,
      target: `${address}:${SERVICE_PORT}`,
      proc: undefined,
      logs: [],
    };
    this.nodes.push(node);
    return node;
  }

  /** Starts `peregrine serve` in the node's namespace; resolves when its /readyz answers 200. */
  async start(node: Node, timeoutMs = 60_000): Promise<void> {
    if (node.proc !== undefined && node.proc.exitCode === null && node.proc.signalCode === null) {
      throw new Error(`${node.name} runs`);
    }
    const serve = [
      process.execPath,
      '--conditions=peregrine-source',
      BIN,
      'serve',
      APP,
      '--bind',
      node.target,
      '--admin',
      `${node.address}:${ADMIN_PORT}`,
      // Off loopback the dashboard and /api/* need a token; /readyz and /metrics stay open for
      // the balancer's checks and Prometheus, as in production.
      '--admin-token',
      ADMIN_TOKEN,
      '--log-format',
      'json',
      ...(this.#options.serveArgs ?? ['--workers', '1', '--drain-delay', '3']),
    ];
    const cpus = this.#options.cpus?.(node.index);
    const cmd = ['netns', 'exec', node.ns, ...(cpus === undefined ? [] : ['taskset', '-c', cpus])];
    // `ip netns exec` and `taskset` exec the next program, so the child's pid is the master's.
    const proc = spawn('ip', [...cmd, ...serve], {
      cwd: ROOT,
      env: { ...process.env, ...this.#options.env, SCALE_NODE: node.name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    node.proc = proc;
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        try {
          node.logs.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          node.logs.push({ raw: text });
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    await eventually(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`${node.name} exited while starting:\n${this.tail(node)}`);
        }
        return (await this.ready(node)) || undefined;
      },
      timeoutMs,
      `${node.name} is ready`,
      100,
    );
  }

  /** Whether the node's /readyz answers 200 (from the host, across the bridge). */
  async ready(node: Node): Promise<boolean> {
    try {
      const r = await fetch(`http://${node.address}:${ADMIN_PORT}/readyz`, {
        signal: AbortSignal.timeout(1000),
      });
      await r.arrayBuffer();
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /** Sends a signal to the node's master. */
  signal(node: Node, signal: NodeJS.Signals): void {
    node.proc?.kill(signal);
  }

  /** Resolves when the node's master has exited. */
  async exited(node: Node): Promise<void> {
    const proc = node.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise((resolve) => proc.once('exit', resolve));
  }

  /** TERM, and KILL after `graceMs`; kills whatever is left in the namespace. */
  async stop(node: Node, graceMs = 30_000): Promise<void> {
    const proc = node.proc;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await this.exited(node);
      clearTimeout(timer);
    }
    killNamespace(node.ns);
  }

  /** Cuts (or restores) the node's network: its interface goes down (up) inside its namespace. */
  link(node: Node, state: 'up' | 'down'): void {
    ip('-n', node.ns, 'link', 'set', 'eth0', state);
  }

  /** The node's last log lines, for failure messages. */
  tail(node: Node, n = 25): string {
    return node.logs
      .slice(-n)
      .map((l) => (typeof l.raw === 'string' ? l.raw : JSON.stringify(l)))
      .join('\n');
  }

  /** Stops every node, removes every namespace and link, and the scratch directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all(this.nodes.map((n) => this.stop(n, 5_000).catch(() => {})));
    this.#teardownSync();
  }

  #teardownSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    teardowns.delete(this.#onExit);
    for (const node of this.nodes) {
      if (node.proc !== undefined && node.proc.exitCode === null) node.proc.kill('SIGKILL');
      killNamespace(node.ns);
      tryIp('netns', 'del', node.ns);
      tryIp('link', 'del', `pg${this.id}v${node.index}`);
    }
    tryIp('link', 'del', this.bridge);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
