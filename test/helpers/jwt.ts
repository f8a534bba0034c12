import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';

/** An RSA signing key with its public JWK. */
export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
  pem: string;
}

export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'notes-api';

/** A new RS256 key pair, its public JWK named `kid`. */
export async function rsaKey(kid: string = randomUUID()): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicKey, jwk, pem: await exportSPKI(publicKey) };
}

/** A token signed with `key`: sub, iss, aud and a 5-minute exp unless `claims` says otherwise. */
export function sign(
  key: TestKey,
  claims: JWTPayload = {},
  options: { exp?: number | string; kid?: string | null; iat?: number } = {},
): Promise<string> {
  // A jti makes every token unique, so a verifier's cache never answers for another test's token.
  const jti = randomUUID();
  const jwt = new SignJWT({ sub: 'user-1', iss: ISSUER, aud: AUDIENCE, jti, ...claims })
    .setProtectedHeader({
      alg: 'RS256',
      ...(options.kid === null ? {} : { kid: options.kid ?? key.kid }),
    })
    .setIssuedAt(options.iat)
    .setExpirationTime(options.exp ?? '5m');
  return jwt.sign(key.privateKey);
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The classic confusion attack: HS256 with the RSA public key (PEM) as the HMAC secret. */
export function hs256WithPublicKey(key: TestKey, claims: JWTPayload = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT', kid: key.kid });
  const body = b64({ sub: 'attacker', iss: ISSUER, aud: AUDIENCE, exp: now + 300, ...claims });
  const mac = createHmac('sha256', key.pem).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${mac}`;
}

/** An unsigned token (`alg: none`). */
export function unsigned(claims: JWTPayload = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const body = b64({ sub: 'attacker', iss: ISSUER, aud: AUDIENCE, exp: now + 300, ...claims });
  return `${b64({ alg: 'none', typ: 'JWT' })}.${body}.`;
}

/** A JWKS endpoint on 127.0.0.1: serves `keys`, counts fetches, and can be made to hang. */
export class JwksServer {
  keys: JWK[] = [];
  hits = 0;
  mode: 'serve' | 'hang' | 'error' = 'serve';
  readonly #server: Server;
  readonly #hanging = new Set<ServerResponse>();

  private constructor() {
    this.#server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      this.hits++;
      if (this.mode === 'hang') {
        this.#hanging.add(res);
        res.on('close', () => this.#hanging.delete(res));
        return;
      }
      if (this.mode === 'error') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: this.keys }));
    });
  }

  static async start(keys: JWK[]): Promise<JwksServer> {
    const s = new JwksServer();
    s.keys = keys;
    await new Promise<void>((resolve) => s.#server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/.well-known/jwks.json`;
  }

  /** How many requests the server is holding without an answer. */
  get hanging(): number {
    return this.#hanging.size;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
