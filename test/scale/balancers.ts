import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../helpers/prometheus.ts';
import { eventually } from '../helpers/wait.ts';
import { own } from './netns.ts';

// The real balancers, run from the files users copy (deploy/haproxy/haproxy.cfg,
// deploy/nginx/nginx.conf): only the addresses change (the `server` lines and where the
// balancer listens), plus anything passed in `env` for the "${...}" of haproxy.cfg.

const HAPROXY_CFG = new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url).pathname;
const NGINX_CONF = new URL('../../deploy/nginx/nginx.conf', import.meta.url).pathname;

/** A balancer process in front of the fleet, listening on 127.0.0.1:`port`. */
export interface Balancer {
  readonly kind: 'haproxy' | 'nginx';
  readonly port: number;
  readonly proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** The server state HAProxy reports for one node (`show servers state`). */
export interface ServerState {
  name: string;
  address: string;
  /** 0 stopped (DOWN or maintenance), 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** 1 when an administrator put the server in maintenance. */
  adminState: number;
}

/** A running HAProxy with its runtime API. */
export interface HAProxy extends Balancer {
  readonly kind: 'haproxy';
  readonly socket: string;
  /** Sends one command to the runtime API (stats socket) and returns its answer. */
  command(cmd: string): Promise<string>;
  /** Every server of the `peregrine` backend. */
  servers(): Promise<Map<string, ServerState>>;
  /** Cumulative sessions per server (`stot` of `show stat`). */
  sessions(): Promise<Map<string, number>>;
}

function spawnLogged(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  const proc = own(
    spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let log = '';
  const keep = (c: Buffer) => {
    log = (log + c.toString()).slice(-500_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return { proc, log: () => log };
}

async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

async function listening(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  await eventually(
    () =>
      new Promise<boolean | undefined>((resolve, reject) => {
        if (proc.exitCode !== null) {
          reject(new Error(`balancer exited (${proc.exitCode}):\n${log()}`));
          return;
        }
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(undefined));
      }),
    15_000,
    `the balancer listens on ${port}`,
    50,
  );
}

/** haproxy.cfg with the backend's `server` lines replaced by these (name, address) pairs. */
export function renderHAProxy(servers: Array<{ name: string; target: string }>): string {
  const source = readFileSync(HAPROXY_CFG, 'utf8');
  const lines = source.split('\n');
  const first = lines.findIndex((l) => /^\s+server\s+node\d+\s/.test(l));
  if (first < 0) throw new Error('haproxy.cfg: no `server nodeN` lines to replace');
  const rest = lines.filter((l, i) => i < first || !/^\s+server\s+node\d+\s/.test(l));
  rest.splice(first, 0, ...servers.map((s) => `    server ${s.name} ${s.target}`));
  return rest.join('\n');
}

/** Starts HAProxy (foreground, `-db`) from deploy/haproxy/haproxy.cfg. */
export async function startHAProxy(options: {
  dir: string;
  servers: Array<{ name: string; target: string }>;
  env?: NodeJS.ProcessEnv;
}): Promise<HAProxy> {
  const port = await freePort();
  const cfg = join(options.dir, 'haproxy.cfg');
  const socket = join(options.dir, 'haproxy.sock');
  writeFileSync(cfg, renderHAProxy(options.servers));
  const { proc, log } = spawnLogged('haproxy', ['-db', '-f', cfg], {
    LB_BIND: `127.0.0.1:${port}`,
    LB_SOCKET: socket,
    ...options.env,
  });
  await listening(port, proc, log);
  const command = (cmd: string) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(socket);
      let out = '';
      s.on('data', (c: Buffer) => {
        out += c.toString();
      });
      s.once('end', () => resolve(out));
      s.once('error', reject);
      s.end(`${cmd}\n`);
    });
  const haproxy: HAProxy = {
    kind: 'haproxy',
    port,
    proc,
    socket,
    log,
    command,
    async servers() {
      // "show servers state": a version line, a header "# be_id be_name srv_id srv_name
      // srv_addr srv_op_state srv_admin_state …", then one line per server.
      const out = await command('show servers state peregrine');
      const map = new Map<string, ServerState>();
      for (const line of out.split('\n').slice(2)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 7) continue;
        map.set(f[3]!, {
          name: f[3]!,
          address: f[4]!,
          opState: Number(f[5]),
          adminState: Number(f[6]),
        });
      }
      return map;
    },
    async sessions() {
      const out = await command('show stat');
      const lines = out.split('\n');
      const header = lines[0]!.replace(/^# /, '').split(',');
      const px = header.indexOf('pxname');
      const sv = header.indexOf('svname');
      const stot = header.indexOf('stot');
      const map = new Map<string, number>();
      for (const line of lines.slice(1)) {
        const f = line.split(',');
        if (f[px] !== 'peregrine' || f[sv] === 'BACKEND' || f[sv] === undefined) continue;
        map.set(f[sv]!, Number(f[stot]));
      }
      return map;
    },
    stop: () => stopProcess(proc, 'SIGUSR1'),
  };
  return haproxy;
}

/** nginx.conf with the upstream's `server` lines and the `listen` line pointed at the harness. */
export function renderNginx(
  servers: Array<{ name: string; target: string }>,
  port: number,
  dir: string,
): string {
  const source = readFileSync(NGINX_CONF, 'utf8');
  const serverLine = /^(\s+)server\s+\d+\.\d+\.\d+\.\d+:\d+(.*);/;
  const lines = source.split('\n');
  const first = lines.findIndex((l) => serverLine.test(l));
  if (first < 0) throw new Error('nginx.conf: no upstream `server ADDR:PORT` lines to replace');
  const [, indent, params] = serverLine.exec(lines[first]!)!;
  const rest = lines.filter((l, i) => i < first || !serverLine.test(l));
  rest.splice(first, 0, ...servers.map((s) => `${indent}server ${s.target}${params};`));
  return rest
    .join('\n')
    .replace(/^(\s+)listen\s+\S+;/m, `$1listen 127.0.0.1:${port};`)
    .replace(/^pid\s+\S+;/m, `pid ${join(dir, 'nginx.pid')};`)
    .replace(/^error_log\s+\S+(.*);/m, 'error_log stderr$1;');
}

/** A running nginx. */
export interface Nginx extends Balancer {
  readonly kind: 'nginx';
  /** Rewrites the upstream's servers and reloads nginx (`HUP`: new workers, old ones drain). */
  reload(servers: Array<{ name: string; target: string }>): void;
}

/** Starts nginx (foreground) from deploy/nginx/nginx.conf. */
export async function startNginx(options: {
  dir: string;
  servers: Array<{ name: string; target: string }>;
}): Promise<Nginx> {
  const port = await freePort();
  const conf = join(options.dir, 'nginx.conf');
  writeFileSync(conf, renderNginx(options.servers, port, options.dir));
  const { proc, log } = spawnLogged('nginx', [
    '-p',
    options.dir,
    '-c',
    conf,
    '-e',
    'stderr',
    '-g',
    'daemon off;',
  ]);
  await listening(port, proc, log);
  return {
    kind: 'nginx',
    port,
    proc,
    log,
    reload(servers) {
      writeFileSync(conf, renderNginx(servers, port, options.dir));
      proc.kill('SIGHUP');
    },
    stop: () => stopProcess(proc, 'SIGQUIT'),
  };
}
