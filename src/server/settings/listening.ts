import {
  type Address,
  formatAddress,
  parseAddress,
  parseBoolean,
  parseInteger,
  parseList,
  range,
  SettingError,
  setting,
} from './setting.ts';

function parseAddresses(text: string): Address[] {
  const list = parseList(text).map(parseAddress);
  if (list.length === 0) throw new SettingError('needs at least one address');
  return list;
}

/** Where the server listens: the service binds, the admin listener, the socket options. */
export const listeningSettings = {
  bind: setting<Address[]>({
    name: 'bind',
    short: 'b',
    section: 'Listening',
    kind: 'address',
    meta: 'HOST:PORT',
    repeatable: true,
    default: (env) =>
      env.PORT !== undefined && /^\d+$/.test(env.PORT)
        ? [{ host: '0.0.0.0', port: Number(env.PORT) }]
        : [{ host: '127.0.0.1', port: 8000 }],
    defaultDoc: '`127.0.0.1:8000`, or `0.0.0.0:$PORT` when `$PORT` is set',
    parse: parseAddresses,
    validate: (v) => (v.length === 0 ? 'needs at least one address' : undefined),
    masterOnly: true,
    doc: 'An address to serve on: `HOST:PORT`, `[IPV6]:PORT`, `:PORT` (all interfaces) or `unix:PATH`. Repeat the flag (or separate with commas) to listen on several.',
  }),
  backlog: setting<number>({
    name: 'backlog',
    section: 'Listening',
    kind: 'integer',
    meta: 'N',
    default: () => 2048,
    parse: parseInteger,
    validate: range(1, 65535),
    masterOnly: true,
    doc: 'The listen queue length: connections the kernel holds before they are accepted (capped by `net.core.somaxconn`).',
  }),
  reusePort: setting<boolean>({
    name: 'reuse-port',
    section: 'Listening',
    kind: 'boolean',
    default: () => false,
    parse: parseBoolean,
    masterOnly: true,
    doc: 'Each worker binds its own socket with `SO_REUSEPORT` and the kernel spreads connections, instead of the master accepting and handing them round-robin. Linux with Node ≥ 22.12 only (ignored elsewhere). A worker that closes its socket during a reload resets connections still queued on it unless `net.ipv4.tcp_migrate_req=1`.',
  }),
  admin: setting<Address | null>({
    name: 'admin',
    section: 'Listening',
    kind: 'address',
    meta: 'HOST:PORT',
    default: () => ({ host: '127.0.0.1', port: 9464 }),
    defaultDoc: '`127.0.0.1:9464`',
    parse: (text) =>
      ['off', 'none', 'false', ''].includes(text.trim()) ? null : parseAddress(text),
    masterOnly: true,
    doc: 'Where the master serves `/healthz` and `/readyz` (and the telemetry endpoints); `off` disables it. Keep it on loopback or a private network.',
  }),
} as const;

/** Renders a list of addresses for help and `--print-config`. */
export function formatAddresses(list: readonly Address[]): string {
  return list.map(formatAddress).join(',');
}
