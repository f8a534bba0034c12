import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  private: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
};

/** Strips an IPv4-mapped IPv6 prefix so `::ffff:10.0.0.1` is checked as `10.0.0.1`. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The proxies whose forwarding headers are believed: addresses, CIDR ranges and the names
 * `loopback`, `private` and `linklocal`.
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #any: boolean;

  constructor(entries: readonly string[] = []) {
    this.#any = entries.length > 0;
    for (const entry of entries) {
      const named = NAMED_RANGES[entry];
      if (named !== undefined) {
        for (const [net, prefix, type] of named) this.#list.addSubnet(net, prefix, type);
        continue;
      }
      const [address, prefixText] = entry.split('/');
      const type = isIP(address ?? '');
      if (type === 0) throw new TypeError(`trusted proxy "${entry}" is not an address or range`);
      const family = type === 4 ? 'ipv4' : 'ipv6';
      if (prefixText === undefined) {
        this.#list.addAddress(address!, family);
      } else {
        const prefix = Number(prefixText);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 4 ? 32 : 128)) {
          throw new TypeError(`trusted proxy "${entry}" has a bad prefix length`);
        }
        this.#list.addSubnet(address!, prefix, family);
      }
    }
  }

  /** Whether any proxy is trusted at all. */
  get enabled(): boolean {
    return this.#any;
  }

  /** Whether an address belongs to a trusted proxy. */
  trusts(address: string): boolean {
    if (!this.#any) return false;
    const a = normalize(address);
    const type = isIP(a);
    if (type === 0) return false;
    return this.#list.check(a, type === 4 ? 'ipv4' : 'ipv6');
  }
}

/** One hop of a Forwarded / X-Forwarded-* chain. */
interface Hop {
  for: string;
  proto?: string | undefined;
  host?: string | undefined;
}

/** Strips quotes, brackets and port from a Forwarded `for` node. */
function nodeAddress(node: string): string {
  let value = node.trim();
  if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end === -1 ? value : value.slice(1, end);
  }
  const colon = value.indexOf(':');
  if (colon !== -1 && value.indexOf(':', colon + 1) === -1) return value.slice(0, colon);
  return value;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Parses RFC 7239 `Forwarded` into hops, client first. */
function parseForwarded(header: string): Hop[] {
  const hops: Hop[] = [];
  for (const element of header.split(',')) {
    const hop: Hop = { for: '' };
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      const key = pair.slice(0, eq).trim().toLowerCase();
      const value = pair.slice(eq + 1);
      if (key === 'for') hop.for = nodeAddress(value);
      else if (key === 'proto') hop.proto = unquote(value).toLowerCase();
      else if (key === 'host') hop.host = unquote(value);
    }
    hops.push(hop);
  }
  return hops;
}

/** Parses X-Forwarded-For/Proto/Host into hops, client first. */
function parseXForwarded(headers: IncomingHttpHeaders): Hop[] | undefined {
  const xff = headers['x-forwarded-for'];
  if (xff === undefined) return undefined;
  const list = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((v) => nodeAddress(v));
  const protos = splitHeader(headers['x-forwarded-proto']);
  const hosts = splitHeader(headers['x-forwarded-host']);
  return list.map((address, i) => ({
    for: address,
    // Aligned lists give per-hop values; otherwise the nearest proxy's value applies to all.
    proto: (protos.length === list.length ? protos[i] : protos.at(-1))?.toLowerCase(),
    host: hosts.length === list.length ? hosts[i] : hosts.at(-1),
  }));
}

function splitHeader(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** Where the request came from once trusted proxies are accounted for. */
export interface ClientOrigin {
  address: string;
  scheme: string | undefined;
  host: string | undefined;
}

/**
 * Walks the forwarding chain from the nearest hop outwards, skipping trusted proxies: the first
 * untrusted hop is the client. Headers from an untrusted peer are ignored entirely.
 */
export function resolveClient(
  remote: string,
  headers: IncomingHttpHeaders,
  proxies: TrustedProxies,
): ClientOrigin {
  const origin: ClientOrigin = { address: normalize(remote), scheme: undefined, host: undefined };
  if (!proxies.trusts(remote)) return origin;
  const forwarded = headers.forwarded;
  const hops = forwarded !== undefined ? parseForwarded(forwarded) : parseXForwarded(headers);
  if (hops === undefined || hops.length === 0) return origin;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    origin.scheme = hop.proto ?? origin.scheme;
    origin.host = hop.host ?? origin.host;
    const address = normalize(hop.for);
    origin.address = address === '' ? 'unknown' : address;
    if (isIP(address) === 0 || !proxies.trusts(address)) break;
  }
  return origin;
}
