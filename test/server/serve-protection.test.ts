import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { App } from '../../src/index.ts';
import { serve } from '../../src/server/index.ts';
import { LoadShedder } from '../../src/server/serve/shedder.ts';
import { eventually, sleep } from '../helpers/wait.ts';

function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // block the event loop on purpose
  }
}

/** A raw HTTP/1.1 connection that collects what the server sends. */
async function open(
  port: number,
): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  socket.on('data', (d) => {
    data += d.toString();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, text: () => data, closed };
}

/** The last response a connection got, once it is complete (the bodies here are JSON). */
async function lastResponse(conn: { text: () => string }, n = 1): Promise<string> {
  return eventually(
    () => {
      const text = conn.text();
      const count = text.split('HTTP/1.1 ').length - 1;
      return count >= n && text.endsWith('}') && text.slice(text.lastIndexOf('HTTP/1.1 '));
    },
    5000,
    `response ${n}`,
  );
}

function app(): App {
  const a = new App({ logger: false });
  a.addRoute('/json', { onGet: () => ({ ok: true }) });
  return a;
}

describe('the serve function protects a worker', () => {
  // The decisions are unit-tested on a hand-driven clock (test/server/shedder.test.ts); these
  // two check them on this process's real clock and event loop.
  test('the event-loop lag detector: overdue sampler means overloaded', async () => {
    const shedder = new LoadShedder({ delay: 50, utilization: 0 });
    shedder.start();
    assert.equal(shedder.overloaded(), false);
    spin(120);
    assert.equal(shedder.overloaded(), true, 'a loop 120 ms behind sheds at a 50 ms threshold');
    await eventually(() => !shedder.overloaded(), 1000, 'recovers once the loop turns');
    assert.ok(shedder.takeMaxLag() >= 50);
    shedder.stop();
    const off = new LoadShedder({ delay: 0, utilization: 0 });
    off.start();
    spin(60);
    assert.equal(off.overloaded(), false, 'off means off');
  });

  test('the utilisation trigger sheds while the loop is saturated', async () => {
    const shedder = new LoadShedder({ delay: 0, utilization: 0.5 });
    shedder.start();
    // Saturate the loop, yielding just enough for the sampler (every 100 ms) to run.
    const saturate = async () => {
      spin(40);
      await new Promise((r) => setImmediate(r));
      return shedder.overloaded();
    };
    await eventually(saturate, 2000, 'sheds while saturated', 0);
    await eventually(() => !shedder.overloaded(), 1000, 'stops once the loop idles');
    shedder.stop();
  });

  test('a request read while the loop lags gets a fast 503 with Retry-After and problem+json', async () => {
    const a = app();
    a.addRoute('/spin', {
      onGet() {
        spin(150);
        return { spun: true };
      },
    });
    const server = await serve(a, { port: 0, shedDelay: 50 });
    try {
      const slow = await open(server.address.port);
      const c = await open(server.address.port);
      await eventually(() => server.connections === 2, 5000, 'both connections accepted');
      // Both requests reach the kernel together; the server reads the slow one first, and the
      // second is read 150 ms late in the same turn of the loop.
      slow.socket.write('GET /spin HTTP/1.1\r\nHost: x\r\n\r\n');
      c.socket.write('GET /json HTTP/1.1\r\nHost: x\r\n\r\n');
      await lastResponse(slow);
      await lastResponse(c);
      assert.match(slow.text(), /^HTTP\/1.1 200 /);
      assert.match(c.text(), /^HTTP\/1.1 503 /);
      assert.match(c.text(), /retry-after: 1/i);
      assert.match(c.text(), /application\/problem\+json/);
      assert.match(c.text(), /"code":"PRG_OVERLOADED"/);
      assert.equal(server.stats.shed, 1);
      // The connection stays usable and the next request is served.
      c.socket.write('GET /json HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(await lastResponse(c, 2), /^HTTP\/1.1 200 /);
      slow.socket.destroy();
      c.socket.destroy();
    } finally {
      await server.close(500);
    }
  });

  test('connections over the cap get one 503 and are closed; under the cap they are served', async () => {
    const server = await serve(app(), { port: 0, maxConnections: 2, shedDelay: 0 });
    try {
      const a = await open(server.address.port);
      const b = await open(server.address.port);
      const c = await open(server.address.port);
      await eventually(() => server.connections === 3, 5000, 'all three accepted');
      for (const x of [a, b, c]) x.socket.write('GET /json HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.closed;
      assert.match(c.text(), /^HTTP\/1.1 503 /);
      assert.match(c.text(), /connection: close/i);
      assert.match(c.text(), /"code":"PRG_TOO_MANY_CONNECTIONS"/);
      assert.match(await lastResponse(a), /^HTTP\/1.1 200 /);
      assert.match(await lastResponse(b), /^HTTP\/1.1 200 /);
      assert.equal(server.stats.overCap, 1);
      // A slot freed is a slot for the next connection.
      a.socket.destroy();
      await a.closed;
      await eventually(() => server.connections === 1, 5000, 'the server saw both closes');
      const d = await open(server.address.port);
      d.socket.write('GET /json HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(await lastResponse(d), /^HTTP\/1.1 200 /);
      b.socket.destroy();
      d.socket.destroy();
    } finally {
      await server.close(500);
    }
  });

  test('a drain lets idle keep-alive connections send one more request, then closes them', async () => {
    const server = await serve(app(), { port: 0, drainGrace: 400, shedDelay: 0 });
    const busy = await open(server.address.port);
    const idle = await open(server.address.port);
    for (const x of [busy, idle]) x.socket.write('GET /json HTTP/1.1\r\nHost: x\r\n\r\n');
    await lastResponse(busy);
    await lastResponse(idle);
    const started = Date.now();
    const closing = server.close(5000);
    // A client that sends its next request 100 ms into the drain, within the grace: served, with
    // Connection: close.
    await sleep(100);
    busy.socket.write('GET /json HTTP/1.1\r\nHost: x\r\n\r\n');
    await busy.closed;
    const second = busy.text().slice(busy.text().lastIndexOf('HTTP/1.1'));
    assert.match(second, /^HTTP\/1.1 200 /);
    assert.match(second, /connection: close/i);
    // The connection that stayed idle is closed after the grace, not at once.
    await idle.closed;
    const idleFor = Date.now() - started;
    assert.ok(idleFor >= 350 && idleFor < 2000, `idle connection closed after ${idleFor} ms`);
    await closing;
    assert.ok(Date.now() - started < 2000);
  });
});
