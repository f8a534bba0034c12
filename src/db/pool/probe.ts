import { connect } from 'node:net';

/** The PostgreSQL SSLRequest code (protocol §55.2.10). */
const SSL_REQUEST_CODE = 80877103;

/**
 * Whether a PostgreSQL server answers at all, within `timeoutMs`: opens a connection, sends an
 * SSLRequest and waits for the one byte every server sends back before any authentication
 * (`S` or `N`). It needs no credentials and no session, so it costs the server one short-lived
 * process and nothing of `max_connections` or the pool's budget. A blackholed network (the
 * connection accepted or not, but nothing coming back), a refused or reset connection, or a
 * server too stuck to answer, all read as false. A server with TLS on may log the handshake this
 * probe does not finish; without TLS it logs nothing.
 */
export function probeServer(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = host.startsWith('/')
      ? connect({ path: `${host}/.s.PGSQL.${port}` })
      : connect({ host, port });
    let settled = false;
    const done = (alive: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.once('data', () => done(true));
    socket.once('connect', () => {
      const msg = Buffer.alloc(8);
      msg.writeInt32BE(8, 0);
      msg.writeInt32BE(SSL_REQUEST_CODE, 4);
      socket.write(msg);
    });
  });
}
