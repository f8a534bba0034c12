import { connect, createServer, type Server, type Socket } from 'node:net';

/** How the proxy treats traffic. */
export type FaultMode = 'pass' | 'stall' | 'cut' | 'reset';

/** A running fault proxy. */
export interface FaultProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** The mode now. */
  readonly mode: FaultMode;
  /** Open client connections. */
  readonly connections: number;
  /** Forward bytes both ways (and resume stalled connections). */
  pass(): void;
  /**
   * A blackhole (a partition, a dead NAT, a failover in progress): connections are accepted but
   * nothing is forwarded, either way, on old connections and new ones alike — a new one does not
   * even reach the service until `pass()`.
   */
  stall(): void;
  /** End every connection with FIN; new connections are accepted and closed at once. */
  cut(): void;
  /** Reset every connection (RST); new connections are reset at once. */
  reset(): void;
  /** Closes the proxy and every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy in front of a real service (PostgreSQL, Redis, an HTTP server) whose faults a test
 * switches at will — so failure tests never touch the shared services themselves.
 */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  const pairs = new Set<Pair>();

  const kill = (pair: Pair, how: 'cut' | 'reset') => {
    pairs.delete(pair);
    for (const s of [pair.client, pair.upstream]) {
      if (how === 'reset' && typeof s.resetAndDestroy === 'function' && !s.destroyed) {
        try {
          s.resetAndDestroy();
          continue;
        } catch {
          // not connected yet: fall through to destroy
        }
      }
      if (how === 'cut') s.end(() => s.destroy());
      else s.destroy();
    }
  };

  // Connections accepted during a stall: they reach the service only when it ends.
  const held = new Set<Socket>();

  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => {});
    if (mode === 'cut') {
      client.end(() => client.destroy());
      return;
    }
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'stall') {
      client.pause();
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    attach(client);
  });

  const attach = (client: Socket) => {
    const upstream = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => {
      pairs.delete(pair);
      client.destroy();
    });
    // Manual forwarding (not pipe) so a stall can hold bytes without ending either side.
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => {
        if (mode !== 'stall') from.resume();
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    client.resume();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    pass() {
      mode = 'pass';
      for (const p of pairs) {
        p.client.resume();
        p.upstream.resume();
      }
      for (const client of [...held]) {
        held.delete(client);
        if (!client.destroyed) attach(client);
      }
    },
    stall() {
      mode = 'stall';
      for (const p of pairs) {
        p.client.pause();
        p.upstream.pause();
      }
    },
    cut() {
      mode = 'cut';
      for (const p of [...pairs]) kill(p, 'cut');
      for (const c of [...held]) c.end(() => c.destroy());
    },
    reset() {
      mode = 'reset';
      for (const p of [...pairs]) kill(p, 'reset');
      for (const c of [...held]) c.resetAndDestroy();
    },
    async close() {
      for (const p of [...pairs]) kill(p, 'reset');
      for (const c of [...held]) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
