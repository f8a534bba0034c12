import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { Authenticator, principalOf, requirePrincipal } from '../../src/auth/index.ts';
import { App, type Logger, type Request, responder } from '../../src/index.ts';
import { TestClient } from '../../src/testing/index.ts';
import {
  AUDIENCE,
  hs256WithPublicKey,
  ISSUER,
  JwksServer,
  rsaKey,
  sign,
  type TestKey,
  unsigned,
} from '../helpers/jwt.ts';
import { eventually } from '../helpers/wait.ts';

interface Problem {
  status: number;
  code: string;
  detail: string;
}

function serviceWith(auth: Authenticator): TestClient {
  const app = new App({ logger: false });
  auth.install(app);
  app.addRoute(
    '/notes',
    {
      onGet: (req: Request) => ({ caller: principalOf(req)?.subject ?? null }),
      onPost: responder({ before: [auth.requires('notes:write')] }, (req) => ({
        wrote: principalOf(req)!.subject,
      })),
    },
    { before: [auth.requires()] },
  );
  app.addRoute(
    '/admin',
    { onGet: () => ({ ok: true }) },
    {
      before: [auth.requires({ roles: ['admin', 'ops'] })],
    },
  );
  app.addRoute('/public', { onGet: (req: Request) => ({ caller: principalOf(req)?.subject }) });
  app.addRoute('/tenant', {
    onGet: (req: Request) => {
      const tenant: string | undefined = requirePrincipal<{ tenant: string }>(req).claims.tenant;
      return { tenant };
    },
  });
  app.use(auth.middleware());
  return new TestClient(app);
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('bearer JWTs from a JWKS served over HTTP', () => {
  let jwks: JwksServer;
  let keyA: TestKey;
  let keyB: TestKey;
  let auth: Authenticator;
  let client: TestClient;

  before(async () => {
    keyA = await rsaKey('key-a');
    keyB = await rsaKey('key-b');
    jwks = await JwksServer.start([keyA.jwk]);
    auth = new Authenticator({
      jwt: {
        jwks: { url: jwks.url, cooldown: 0 },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
      },
    });
    client = serviceWith(auth);
  });
  after(async () => {
    await client.close();
    await jwks.close();
  });

  test('a valid token: 200 and the caller in req.context', async () => {
    const r = await client.get('/notes', bearer(await sign(keyA)));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { caller: 'user-1' });
    assert.equal(jwks.hits, 1, 'fetched once, at startup');
  });

  test('no credentials: 401 with a Bearer challenge, problem+json', async () => {
    const r = await client.get('/notes');
    assert.equal(r.status, 401);
    assert.equal(r.header('content-type'), 'application/problem+json');
    assert.equal(r.header('www-authenticate'), 'Bearer realm="api"');
    assert.equal((r.json as Problem).code, 'PRG_AUTH_REQUIRED');
  });

  test('requirePrincipal: typed claims for a caller, 401 for none', async () => {
    const r = await client.get('/tenant', bearer(await sign(keyA, { tenant: 'acme' })));
    assert.deepEqual(r.json, { tenant: 'acme' });
    const anonymous = await client.get('/tenant');
    assert.equal(anonymous.status, 401);
    assert.equal((anonymous.json as Problem).code, 'PRG_AUTH_REQUIRED');
  });

  test('a public route lets anonymous callers through, and knows an authenticated one', async () => {
    assert.deepEqual((await client.get('/public')).json, {});
    const r = await client.get('/public', bearer(await sign(keyA, { sub: 'svc-7' })));
    assert.deepEqual(r.json, { caller: 'svc-7' });
  });

  test('an expired token: 401 invalid_token, within the skew still accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign(keyA, {}, { exp: now - 120, iat: now - 600 });
    const r = await client.get('/notes', bearer(expired));
    assert.equal(r.status, 401);
    assert.equal((r.json as Problem).code, 'PRG_AUTH_INVALID');
    assert.equal((r.json as Problem).detail, 'The token has expired.');
    assert.match(r.header('www-authenticate')!, /^Bearer realm="api", error="invalid_token"/);
    const justExpired = await sign(keyA, {}, { exp: now - 10, iat: now - 600 });
    assert.equal((await client.get('/notes', bearer(justExpired))).status, 200);
  });

  test('a token not valid yet (nbf) is refused beyond the skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await client.get('/notes', bearer(await sign(keyA, { nbf: now + 120 })));
    assert.equal(r.status, 401);
    assert.equal((r.json as Problem).detail, 'The token is not valid yet (nbf).');
  });

  test('a wrong audience or issuer: 401', async () => {
    const aud = await client.get('/notes', bearer(await sign(keyA, { aud: 'billing-api' })));
    assert.equal(aud.status, 401);
    assert.equal((aud.json as Problem).detail, 'The token is not meant for this service (aud).');
    const iss = await client.get('/notes', bearer(await sign(keyA, { iss: 'https://evil/' })));
    assert.equal(iss.status, 401);
    assert.equal((iss.json as Problem).detail, 'The token is not from a trusted issuer (iss).');
  });

  test('a token without exp is refused', async () => {
    const token = await new SignJWT({ sub: 'u', iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'RS256', kid: keyA.kid })
      .sign(keyA.privateKey);
    const r = await client.get('/notes', bearer(token));
    assert.equal(r.status, 401);
    assert.equal((r.json as Problem).detail, 'The token has no "exp" claim.');
  });

  test('alg: none is refused', async () => {
    const r = await client.get('/notes', bearer(unsigned()));
    assert.equal(r.status, 401);
    assert.equal((r.json as Problem).code, 'PRG_AUTH_INVALID');
    assert.equal((r.json as Problem).detail, "The token's algorithm is not accepted.");
  });

  test('HS256 signed with the RSA public key (algorithm confusion) is refused', async () => {
    const r = await client.get('/notes', bearer(hs256WithPublicKey(keyA)));
    assert.equal(r.status, 401);
    assert.equal((r.json as Problem).detail, "The token's algorithm is not accepted.");
  });

  test('a forged signature and garbage are refused', async () => {
    const token = await sign(keyA);
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${Buffer.from('x'.repeat(256)).toString('base64url')}`;
    const r = await client.get('/notes', bearer(forged));
    assert.equal(r.status, 401);
    assert.equal((r.json as Problem).detail, "The token's signature does not verify.");
    for (const junk of ['abc', 'a.b.c', '....', 'Zm9v.YmFy.YmF6']) {
      assert.equal((await client.get('/notes', bearer(junk))).status, 401, junk);
    }
    for (const authorization of ['Bearer a b', 'Bearer', 'bearer  ']) {
      const bad = await client.get('/notes', { headers: { authorization } });
      assert.equal(bad.status, 401, authorization);
      assert.equal((bad.json as Problem).detail, 'The bearer token is malformed.');
    }
    // Another scheme is not a bearer token: the route sees no credentials.
    const basic = await client.get('/notes', { headers: { authorization: 'Basic dXNlcjpwdw==' } });
    assert.equal((basic.json as Problem).code, 'PRG_AUTH_REQUIRED');
  });

  test('scopes: 403 problem+json with insufficient_scope when one is missing', async () => {
    const reader = await sign(keyA, { scope: 'notes:read' });
    const r = await client.post('/notes', bearer(reader));
    assert.equal(r.status, 403);
    assert.equal(r.header('content-type'), 'application/problem+json');
    assert.equal((r.json as Problem).code, 'PRG_AUTH_FORBIDDEN');
    assert.equal(
      r.header('www-authenticate'),
      'Bearer realm="api", error="insufficient_scope", scope="notes:write"',
    );
    const writer = await sign(keyA, { scope: 'notes:read notes:write' });
    assert.deepEqual((await client.post('/notes', bearer(writer))).json, { wrote: 'user-1' });
    const scp = await sign(keyA, { scp: ['notes:write'] });
    assert.equal((await client.post('/notes', bearer(scp))).status, 200);
  });

  test('roles: any one of those listed', async () => {
    assert.equal((await client.get('/admin', bearer(await sign(keyA)))).status, 403);
    const ops = await sign(keyA, { roles: ['ops'] });
    assert.equal((await client.get('/admin', bearer(ops))).status, 200);
  });

  test('rotation: a new kid is fetched, a removed one stops working', async () => {
    jwks.keys = [keyA.jwk, keyB.jwk];
    const before = jwks.hits;
    const r = await client.get('/notes', bearer(await sign(keyB)));
    assert.equal(r.status, 200, r.text);
    assert.equal(jwks.hits, before + 1, 'one refresh for the unknown kid');
    assert.equal((await client.get('/notes', bearer(await sign(keyB)))).status, 200);
    assert.equal(jwks.hits, before + 1, 'known kids need no fetch');
    jwks.keys = [keyB.jwk];
    // key-a is still cached: it verifies until the set is refreshed…
    assert.equal((await client.get('/notes', bearer(await sign(keyA)))).status, 200);
    // …which an unknown kid triggers (cooldown 0 here); then key-a is gone.
    const keyC = await rsaKey('key-c');
    assert.equal((await client.get('/notes', bearer(await sign(keyC)))).status, 401);
    const gone = await client.get('/notes', bearer(await sign(keyA)));
    assert.equal(gone.status, 401);
    assert.equal((gone.json as Problem).detail, 'No trusted key matches the token.');
  });

  test('concurrent tokens with unknown kids share one refresh', async () => {
    jwks.keys = [keyB.jwk];
    const before = jwks.hits;
    const stranger = await rsaKey();
    const strangers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sign(stranger, {}, { kid: `forged-${i}` })),
    );
    const answers = await Promise.all(strangers.map((t) => client.get('/notes', bearer(t))));
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([401]));
    assert.ok(jwks.hits - before <= 1, `${jwks.hits - before} fetches for 50 unknown kids`);
  });
});

describe('unknown kids within the cooldown', () => {
  test('50 tokens with unknown kids one after another cost no fetch', async () => {
    const key = await rsaKey();
    const jwks = await JwksServer.start([key.jwk]);
    const auth = new Authenticator({
      jwt: { jwks: jwks.url, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] },
    });
    const client = serviceWith(auth);
    try {
      assert.equal((await client.get('/notes', bearer(await sign(key)))).status, 200);
      const hits = jwks.hits;
      const stranger = await rsaKey();
      for (let i = 0; i < 50; i++) {
        const t = await sign(stranger, {}, { kid: `unknown-${i}` });
        assert.equal((await client.get('/notes', bearer(t))).status, 401);
      }
      assert.equal(jwks.hits, hits, 'the default 30 s cooldown holds refreshes back');
    } finally {
      await client.close();
      await jwks.close();
    }
  });
});

describe('a JWKS endpoint that hangs or fails', () => {
  test('cold cache: a bounded 503 PRG_AUTH_UNAVAILABLE with Retry-After, never a hang', async () => {
    const key = await rsaKey();
    const jwks = await JwksServer.start([key.jwk]);
    jwks.mode = 'hang';
    const auth = new Authenticator({
      jwt: {
        jwks: { url: jwks.url, timeout: 300 },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
      },
    });
    const app = new App({ logger: false });
    app.addRoute('/notes', { onGet: () => ({}) }, { before: [auth.requires()] });
    const client = new TestClient(app);
    try {
      const token = await sign(key);
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => client.get('/notes', bearer(token))),
      );
      const elapsed = performance.now() - started;
      for (const r of answers) {
        assert.equal(r.status, 503);
        assert.equal((r.json as Problem).code, 'PRG_AUTH_UNAVAILABLE');
        assert.equal(r.header('retry-after'), '1');
      }
      assert.ok(elapsed < 2000, `20 requests answered in ${elapsed.toFixed(0)} ms`);
      assert.equal(jwks.hits, 1, 'the 20 requests shared one fetch');
      // Once the endpoint answers again, the same token verifies.
      jwks.mode = 'serve';
      const ok = await client.get('/notes', bearer(token));
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await client.close();
      await auth.close();
      await jwks.close();
    }
  });

  test('warm cache: known keys keep working; an unknown kid gets a bounded 503', async () => {
    const key = await rsaKey();
    const jwks = await JwksServer.start([key.jwk]);
    const auth = new Authenticator({
      jwt: {
        jwks: { url: jwks.url, timeout: 300, cooldown: 0 },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
      },
    });
    const lines: Array<[string, string | undefined]> = [];
    const logger: Logger = {
      error: (_o, msg) => lines.push(['error', msg]),
      warn: (_o, msg) => lines.push(['warn', msg]),
      info: (_o, msg) => lines.push(['info', msg]),
      debug: () => {},
      child: () => logger,
    };
    const app = new App({ logger });
    auth.install(app);
    app.addRoute('/notes', { onGet: () => ({}) }, { before: [auth.requires()] });
    const client = new TestClient(app);
    try {
      assert.equal((await client.get('/notes', bearer(await sign(key)))).status, 200);
      jwks.mode = 'hang';
      assert.equal((await client.get('/notes', bearer(await sign(key)))).status, 200);
      const started = performance.now();
      const r = await client.get('/notes', bearer(await sign(await rsaKey())));
      const elapsed = performance.now() - started;
      assert.equal(r.status, 503);
      assert.equal((r.json as Problem).code, 'PRG_AUTH_UNAVAILABLE');
      assert.ok(elapsed < 2000, `answered in ${elapsed.toFixed(0)} ms`);
      jwks.mode = 'error';
      const failing = await client.get('/notes', bearer(await sign(await rsaKey())));
      assert.equal(failing.status, 503);
      assert.equal((await client.get('/notes', bearer(await sign(key)))).status, 200);
      const jwksLines = () => lines.filter(([, msg]) => msg?.startsWith('JWKS'));
      assert.deepEqual(jwksLines(), [
        ['warn', 'JWKS fetch failed; tokens that need new keys get 503 until it works'],
      ]);
      jwks.mode = 'serve';
      assert.equal((await client.get('/notes', bearer(await sign(await rsaKey())))).status, 401);
      assert.deepEqual(jwksLines().at(-1), ['info', 'JWKS fetched again']);
    } finally {
      await client.close();
      await jwks.close();
    }
  });
});

describe('the cache of verified tokens', () => {
  test('a token verifies once, until its exp (clock skew included) or the ttl', async () => {
    const key = await rsaKey();
    const auth = new Authenticator({
      jwt: {
        keys: { keys: [key.jwk] },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        clockSkew: 0,
      },
    });
    const verifier = auth.jwt!;
    const token = await sign(key, {}, { exp: Math.floor(Date.now() / 1000) + 2 });
    const [a, b] = await Promise.all([verifier.verify(token), verifier.verify(token)]);
    assert.equal(a, b, 'concurrent calls share one verification');
    assert.equal(await verifier.verify(token), a, 'a later call is answered from the cache');
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.scopes) && Object.isFrozen(a.claims));
    // Past its exp the cached entry no longer counts: the token is verified again and refused.
    const refused = await eventually(
      () =>
        verifier.verify(token).then(
          () => undefined,
          (err: Error) => err,
        ),
      5000,
      'the token to expire',
      100,
    );
    assert.equal(refused.message, 'The token has expired.');
    const uncached = new Authenticator({
      jwt: {
        keys: { keys: [key.jwk] },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        cache: false,
      },
    }).jwt!;
    const fresh = await sign(key);
    assert.notEqual(await uncached.verify(fresh), await uncached.verify(fresh));
  });

  test('a refused token is not cached', async () => {
    const key = await rsaKey();
    const verifier = new Authenticator({
      jwt: { keys: { keys: [key.jwk] }, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] },
    }).jwt!;
    const wrong = await sign(key, { aud: 'other' });
    await assert.rejects(verifier.verify(wrong), /not meant for this service/);
    await assert.rejects(verifier.verify(wrong), /not meant for this service/);
  });
});

describe('local keys and pinning', () => {
  test('a local JWK Set and a PEM public key', async () => {
    const key = await rsaKey();
    for (const source of [{ keys: { keys: [key.jwk] } }, { key: key.pem }]) {
      const auth = new Authenticator({
        jwt: { ...source, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] },
      });
      const client = serviceWith(auth);
      assert.equal((await client.get('/notes', bearer(await sign(key)))).status, 200);
      assert.equal((await client.get('/notes', bearer(hs256WithPublicKey(key)))).status, 401);
      assert.equal((await client.get('/notes', bearer(unsigned()))).status, 401);
      await client.close();
    }
  });

  test('HS256 with a secret of 32+ bytes', async () => {
    const secret = randomBytes(32);
    const auth = new Authenticator({
      jwt: { key: secret, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] },
    });
    const client = serviceWith(auth);
    const good = await new SignJWT({ sub: 'svc', iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1m')
      .sign(secret);
    assert.equal((await client.get('/notes', bearer(good))).status, 200);
    const other = await new SignJWT({ sub: 'svc', iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1m')
      .sign(randomBytes(32));
    assert.equal((await client.get('/notes', bearer(other))).status, 401);
  });

  test('unsafe configurations are refused when the authenticator is built', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const base = { issuer: ISSUER, audience: AUDIENCE };
    const refused: Array<[unknown, RegExp]> = [
      [{ ...base, key: publicKey, algorithms: [] }, /algorithms/],
      [{ ...base, key: publicKey, algorithms: ['none'] }, /none/],
      [{ ...base, key: publicKey, algorithms: ['RS256', 'HS256'] }, /mixed/],
      [{ ...base, key: publicKey, algorithms: ['HS256'] }, /does not fit/],
      [{ ...base, key: 'a-pem-or-a-secret?', algorithms: ['HS256'] }, /not a string/],
      [{ ...base, key: randomBytes(16), algorithms: ['HS256'] }, /32 bytes/],
      [{ ...base, key: privateKey, algorithms: ['RS256'] }, /public key/],
      [{ ...base, jwks: 'https://idp/jwks', algorithms: ['HS256'] }, /JWKS/],
      [{ ...base, jwks: 'http://idp.example/jwks', algorithms: ['RS256'] }, /plain http/],
      [{ issuer: ISSUER, key: publicKey, algorithms: ['RS256'] }, /audience/],
      [{ ...base, algorithms: ['RS256'] }, /exactly one/],
    ];
    for (const [jwt, message] of refused) {
      assert.throws(() => new Authenticator({ jwt: jwt as never }), message, JSON.stringify(jwt));
    }
  });
});
