import { type Address, formatAddress } from './settings/setting.ts';

/** Which listener failed to bind: the service (`--bind`) or the master's admin listener (`--admin`). */
export type ListenerRole = 'bind' | 'admin';

/**
 * A listening address could not be bound. The message names the listener, the address, why, and
 * the flag that moves it; `code`, `syscall`, `address` and `port` are the system error's.
 */
export class BindError extends Error {
  override name = 'BindError';
  /** The system error code (`EADDRINUSE`, `EACCES`, …). */
  readonly code: string | undefined;
  /** Always `listen`, as on node's own error. */
  readonly syscall = 'listen';
  /** The listener that failed. */
  readonly role: ListenerRole;
  /** The address, as `HOST:PORT` or `unix:PATH`. */
  readonly address: string;
  /** The port (0 for a Unix socket). */
  readonly port: number;

  constructor(role: ListenerRole, address: Address, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    const text = formatAddress(address);
    super(describe(role, address, typeof code === 'string' ? code : undefined, cause), { cause });
    this.code = typeof code === 'string' ? code : undefined;
    this.role = role;
    this.address = text;
    this.port = 'port' in address ? address.port : 0;
    // The frames are node's and the listener's; the message says all there is.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * Ports Peregrine listens on by default: serve's bind (8000) and admin (9464), and `peregrine
 * apm`'s OTLP receivers (4317/4318) and API (9465). A suggested address avoids all of them.
 */
const DEFAULT_PORTS = new Set([8000, 9464, 9465, 4317, 4318]);

/** Another admin address for one that is taken: ten ports up, past Peregrine's defaults. */
function suggestAdmin(address: Address): string {
  if (!('port' in address)) return '127.0.0.1:9474';
  let port = address.port === 0 ? 9464 : address.port;
  do port = port + 10 > 65535 ? 9474 : port + 10;
  while (DEFAULT_PORTS.has(port));
  return formatAddress({ ...address, port });
}

function describe(
  role: ListenerRole,
  address: Address,
  code: string | undefined,
  cause: unknown,
): string {
  const text = formatAddress(address);
  const what =
    role === 'admin'
      ? `cannot start the admin listener (/healthz, /readyz, /metrics) on ${text} (--admin)`
      : `cannot serve on ${text} (--bind)`;
  const unix = 'path' in address;
  switch (code) {
    case 'EADDRINUSE':
      return role === 'admin'
        ? `${what}: the address is in use — is another peregrine serve running on this machine? ` +
            `Give each its own admin address, e.g. --admin ${suggestAdmin(address)}, or turn it off with --admin off.`
        : `${what}: the address is in use — another server listens there. ` +
            'Choose another with --bind HOST:PORT, or stop the other server.';
    case 'EACCES':
    case 'EPERM':
      return unix
        ? `${what}: permission denied to create the socket file`
        : `${what}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); use a higher port`;
    case 'EADDRNOTAVAIL':
      return `${what}: no network interface of this machine has that address (use 127.0.0.1, 0.0.0.0 or one of its own)`;
    case 'ENOENT':
      return `${what}: the socket's directory does not exist`;
    default:
      return `${what}: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
}
