import { connect } from 'node:net';

/** The PostgreSQL CancelRequest code (protocol §55.2.8). */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Asks the server to cancel the statement running on a backend, over a fresh connection, as the
 * protocol prescribes. Fire-and-forget: the cancelled statement fails with SQLSTATE 57014 on its
 * own connection, which then stays usable. Bounded by `timeoutMs` so a stalled server costs one
 * socket for a moment, not forever.
 */
export function sendCancel(
  host: string,
  port: number,
  processId: number,
  secretKey: number,
  timeoutMs = 1000,
): void {
  const socket = host.startsWith('/')
    ? connect({ path: `${host}/.s.PGSQL.${port}` })
    : connect({ host, port });
  socket.setTimeout(timeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.once('connect', () => {
    const msg = Buffer.alloc(16);
    msg.writeInt32BE(16, 0);
    msg.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    msg.writeInt32BE(processId, 8);
    msg.writeInt32BE(secretKey, 12);
    socket.end(msg);
  });
  socket.once('close', () => socket.destroy());
}
