/**
 * `npm run bench:auth`: what a guard costs per request, in-process (TestClient, no socket), side
 * by side in one run: a route without a guard, and the same route behind `auth.requires()` with
 * an API key, an ES256 JWT, an RS256 JWT (2048-bit key, keys from a local JWKS server fetched
 * once), each with the verified-token cache (one client sending its token again) and without it
 * (every token new), and `safeHeaders()`. Prints µs per request (median and fastest of 9
 * interleaved rounds of 2 000 sequential requests) and each case's ratio to the unguarded route.
 *
 * On the shared development machine:
 * `flock /tmp/peregrine-load.lock node --conditions=peregrine-source bench/auth.ts`
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Authenticator, generateApiKey } from '../src/auth/index.ts';
import { App } from '../src/index.ts';
import { safeHeaders } from '../src/middleware/index.ts';
import { TestClient } from '../src/testing/index.ts';
import { AUDIENCE, ISSUER, JwksServer, rsaKey, sign } from '../test/helpers/jwt.ts';

const ROUNDS = 9;
const PER_ROUND = 2000;

const rsa = await rsaKey('rsa');
const ec = await generateKeyPair('ES256', { extractable: true });
const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256' };
const jwks = await JwksServer.start([rsa.jwk, ecJwk]);
const apiKey = generateApiKey();
const auth = new Authenticator({
  jwt: { jwks: jwks.url, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256', 'ES256'] },
  apiKeys: { keys: [{ hash: apiKey.hash, subject: 'bench' }] },
});
const uncached = new Authenticator({
  jwt: {
    jwks: jwks.url,
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['RS256', 'ES256'],
    cache: false,
  },
});
const app = new App({ logger: false, instrumentation: false });
auth.install(app);
uncached.install(app);
app.addRoute('/open', { onGet: () => ({ ok: true }) });
app.addRoute('/guarded', { onGet: () => ({ ok: true }) }, { before: [auth.requires()] });
app.addRoute('/uncached', { onGet: () => ({ ok: true }) }, { before: [uncached.requires()] });
const headersApp = new App({ logger: false, instrumentation: false });
headersApp.use(safeHeaders());
headersApp.addRoute('/open', { onGet: () => ({ ok: true }) });

const client = new TestClient(app);
const headersClient = new TestClient(headersApp);
const esToken = await new SignJWT({ sub: 'bench', iss: ISSUER, aud: AUDIENCE })
  .setProtectedHeader({ alg: 'ES256', kid: 'ec' })
  .setExpirationTime('1h')
  .sign(ec.privateKey);
const rsToken = await sign(rsa, {}, { exp: '1h' });

const cases: Array<[string, TestClient, string, Record<string, string>]> = [
  ['no guard', client, '/open', {}],
  ['safeHeaders()', headersClient, '/open', {}],
  ['requires(), API key', client, '/guarded', { 'x-api-key': apiKey.key }],
  ['requires(), ES256 JWT', client, '/guarded', { authorization: `Bearer ${esToken}` }],
  ['requires(), RS256 JWT', client, '/guarded', { authorization: `Bearer ${rsToken}` }],
  ['ES256 JWT, no cache', client, '/uncached', { authorization: `Bearer ${esToken}` }],
  ['RS256 JWT, no cache', client, '/uncached', { authorization: `Bearer ${rsToken}` }],
];

const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, c, path, headers] of cases) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) {
      const r = await c.get(path, { headers });
      if (r.status !== 200) throw new Error(`${name}: ${r.status} ${r.text}`);
    }
    const us = Number(process.hrtime.bigint() - start) / 1000 / PER_ROUND;
    results.set(name, [...(results.get(name) ?? []), us]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const base = median(results.get('no guard')!);
// The machine is shared: the fastest round is the least disturbed one, so it is printed too.
const fastest = (xs: number[]) => Math.min(...xs);
const baseMin = fastest(results.get('no guard')!);
console.log('case                     median µs  ratio   fastest µs  ratio');
for (const [name, xs] of results) {
  const m = median(xs);
  const f = fastest(xs);
  console.log(
    `${name.padEnd(24)} ${m.toFixed(1).padStart(9)}  ${(m / base).toFixed(2).padStart(5)}x ${f.toFixed(1).padStart(11)}  ${(f / baseMin).toFixed(2).padStart(5)}x`,
  );
}
console.log(`JWKS fetches: ${jwks.hits}`);
await client.close();
await headersClient.close();
await jwks.close();
