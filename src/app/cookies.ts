/** Options of a Set-Cookie. */
export interface CookieOptions {
  /** Seconds until expiry; 0 or less deletes the cookie. */
  maxAge?: number;
  expires?: Date;
  path?: string;
  domain?: string;
  /** Defaults to true. */
  secure?: boolean;
  /** Defaults to true. */
  httpOnly?: boolean;
  /** Defaults to 'Lax'. */
  sameSite?: 'Strict' | 'Lax' | 'None';
  partitioned?: boolean;
}

const NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE_RE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
const ATTR_RE = /^[\x20-\x3A\x3C-\x7E]*$/;

/** Parses a Cookie header into a map (first occurrence wins, values percent-decoded if valid). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined || header === '') return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    if (name === '' || cookies.has(name)) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1);
    if (value.includes('%')) {
      try {
        value = decodeURIComponent(value);
      } catch {
        // Keep the raw value: a cookie we cannot decode is still the client's cookie.
      }
    }
    cookies.set(name, value);
  }
  return cookies;
}

/** Serialises a Set-Cookie header value; throws TypeError on characters a cookie cannot carry. */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!NAME_RE.test(name)) throw new TypeError(`invalid cookie name ${JSON.stringify(name)}`);
  const encoded = VALUE_RE.test(value) ? value : encodeURIComponent(value);
  let out = `${name}=${encoded}`;
  if (options.maxAge !== undefined) out += `; Max-Age=${Math.floor(options.maxAge)}`;
  if (options.expires !== undefined) out += `; Expires=${options.expires.toUTCString()}`;
  for (const [attr, v] of [
    ['Domain', options.domain],
    ['Path', options.path ?? '/'],
  ] as const) {
    if (v === undefined) continue;
    if (!ATTR_RE.test(v)) throw new TypeError(`invalid cookie ${attr} ${JSON.stringify(v)}`);
    out += `; ${attr}=${v}`;
  }
  const sameSite = options.sameSite ?? 'Lax';
  const secure = options.secure ?? true;
  if (sameSite === 'None' && !secure) throw new TypeError('SameSite=None requires Secure');
  if (secure) out += '; Secure';
  if (options.httpOnly ?? true) out += '; HttpOnly';
  out += `; SameSite=${sameSite}`;
  if (options.partitioned) out += '; Partitioned';
  return out;
}
