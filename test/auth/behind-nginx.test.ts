import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator, principalOf } from '../../src/auth/index.ts';
import { App, type Request } from '../../src/index.ts';
import { safeHeaders } from '../../src/middleware/index.ts';
import { type RunningServer, serve } from '../../src/server/index.ts';
import { AUDIENCE, ISSUER, JwksServer, rsaKey, sign, type TestKey } from '../helpers/jwt.ts';
import { eventually } from '../helpers/wait.ts';

// The whole path users run: a client speaks TLS to nginx, nginx proxies plain HTTP to the
// service and says so in X-Forwarded-Proto; the service trusts 127.0.0.1 as its proxy, verifies
// tokens against a JWKS over HTTP, and answers with the safe headers.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  scheme: 'https' | 'http',
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const url = `${scheme}://127.0.0.1:${port}${path}`;
  if (scheme === 'http') {
    return fetch(url, { headers }).then(async (r) => ({
      status: r.status,
      headers: Object.fromEntries(r.headers),
      body: await r.text(),
    }));
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('behind nginx terminating TLS', () => {
  let dir: string;
  let jwks: JwksServer;
  let key: TestKey;
  let server: RunningServer;
  let nginx: ChildProcess;
  let tlsPort: number;
  let plainPort: number;
  let nginxLog = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'peregrine-nginx-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    key = await rsaKey();
    jwks = await JwksServer.start([key.jwk]);
    const app = new App({ logger: false, trustedProxies: ['127.0.0.1'] });
    app.use(safeHeaders());
    const auth = new Authenticator({
      jwt: { jwks: jwks.url, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] },
    }).install(app);
    app.addRoute(
      '/me',
      {
        onGet: (req: Request) => ({
          subject: principalOf(req)!.subject,
          scheme: req.scheme,
          client: req.clientAddress,
        }),
      },
      { before: [auth.requires()] },
    );
    server = await serve(app, { port: 0, shedDelay: 0 });
    [tlsPort, plainPort] = [await freePort(), await freePort()];
    const upstream = `http://127.0.0.1:${server.address.port}`;
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${tlsPort} ssl;
    listen 127.0.0.1:${plainPort};
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
    );
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    nginx.stderr!.on('data', (c: Buffer) => {
      nginxLog += c.toString();
    });
    await eventually(
      async () => (await listening(tlsPort)) && (await listening(plainPort)),
      10_000,
      `nginx to listen (${nginxLog})`,
    );
  });

  after(async () => {
    if (nginx !== undefined && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await server?.close(1000);
    await jwks?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('over TLS: HSTS, nosniff, no-store for the authenticated caller; 401 without a token', async () => {
    const token = await sign(key, { sub: 'alice' });
    const ok = await get('https', tlsPort, '/me', { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), {
      subject: 'alice',
      scheme: 'https',
      client: '127.0.0.1',
    });
    assert.equal(ok.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal(ok.headers['x-powered-by'], undefined);
    const anonymous = await get('https', tlsPort, '/me');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['content-type'], 'application/problem+json');
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="api"');
    assert.equal(anonymous.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(JSON.parse(anonymous.body).code, 'PRG_AUTH_REQUIRED');
  });

  test('over plain HTTP through the same proxy: no HSTS', async () => {
    const token = await sign(key);
    const r = await get('http', plainPort, '/me', { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).scheme, 'http');
    assert.equal(r.headers['strict-transport-security'], undefined);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });

  test('a client cannot claim HTTPS by sending X-Forwarded-Proto itself', async () => {
    // nginx sets the header from its own $scheme, replacing the client's.
    const token = await sign(key);
    const r = await get('http', plainPort, '/me', {
      authorization: `Bearer ${token}`,
      'x-forwarded-proto': 'https',
    });
    assert.equal(JSON.parse(r.body).scheme, 'http');
    assert.equal(r.headers['strict-transport-security'], undefined);
  });
});
