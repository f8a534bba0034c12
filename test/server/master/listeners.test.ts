import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { Listeners } from '../../../src/server/master/listeners.ts';
import { eventually } from '../../helpers/wait.ts';

interface Sent {
  worker: number;
  seq: number;
  done: (error: Error | null) => void;
}

/**
 * Listeners on 127.0.0.1:0 with the hand-over recorded instead of sent to a process, and a clock
 * and a sweeper timer moved by hand (`sweep`). Each `client()` is one real TCP connection.
 */
async function rig(t: TestContext, shedAfter = 0) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const sent: Sent[] = [];
  const clock = { now: 0 };
  const listeners = new Listeners(
    (worker, { seq }, _socket, done) => sent.push({ worker, seq, done }),
    shedAfter,
    () => clock.now,
  );
  const [address] = await listeners.listen([{ host: '127.0.0.1', port: 0 }], 64);
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    listeners.dropWaiting();
    await listeners.close();
  });
  const port = (address as { port: number }).port;
  let accepted = 0;
  /** Opens a connection and waits until the master has accepted it (it waits or is sent). */
  const client = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'connect');
    accepted++;
    await eventually(
      () => {
        const c = listeners.counts;
        return c.waiting + c.inFlight + c.handedOver + c.shed >= accepted;
      },
      5000,
      'the master accepted the connection',
    );
    return socket;
  };
  /** Runs the shedding sweeper once (it runs every 50 ms at most). */
  const sweep = () => t.mock.timers.tick(50);
  return { listeners, sent, clock, client, sweep, workersOf: () => sent.map((s) => s.worker) };
}

describe('Listeners: hand-over to workers', () => {
  test('connections wait while no worker accepts, then go round-robin, two in flight per worker', async (t) => {
    const { listeners, client, workersOf } = await rig(t);
    for (let i = 0; i < 5; i++) await client();
    assert.deepEqual(listeners.counts, { waiting: 5, inFlight: 0, handedOver: 0, shed: 0 });
    listeners.setAccepting([1, 2]);
    assert.deepEqual(workersOf(), [1, 2, 1, 2]);
    assert.deepEqual(listeners.counts, { waiting: 1, inFlight: 4, handedOver: 0, shed: 0 });
  });

  test('a confirmation frees a slot: the next waiting connection goes out, the taken one is counted', async (t) => {
    const { listeners, sent, client, workersOf } = await rig(t);
    listeners.setAccepting([1, 2]);
    for (let i = 0; i < 5; i++) await client();
    assert.deepEqual(workersOf(), [1, 2, 1, 2]);
    const toTwo = sent[1]!;
    listeners.confirm(2, toTwo.seq, true);
    assert.deepEqual(workersOf(), [1, 2, 1, 2, 2]);
    assert.deepEqual(listeners.counts, { waiting: 0, inFlight: 4, handedOver: 1, shed: 0 });
  });

  test('confirmations from the wrong worker or for unknown connections change nothing', async (t) => {
    const { listeners, sent, client } = await rig(t);
    listeners.setAccepting([1]);
    await client();
    listeners.confirm(2, sent[0]!.seq, true);
    listeners.confirm(1, 999, true);
    assert.deepEqual(listeners.counts, { waiting: 0, inFlight: 1, handedOver: 0, shed: 0 });
  });

  test('a declined connection goes to the next worker', async (t) => {
    const { listeners, sent, client, workersOf } = await rig(t);
    listeners.setAccepting([1, 2]);
    await client();
    listeners.confirm(1, sent[0]!.seq, false);
    assert.deepEqual(workersOf(), [1, 2]);
    assert.equal(sent[1]!.seq, sent[0]!.seq, 'the same connection');
  });

  test('a worker that is gone: its unconfirmed connections go to the others, it gets no more', async (t) => {
    const { listeners, sent, client, workersOf } = await rig(t);
    listeners.setAccepting([1, 2]);
    await client();
    await client();
    listeners.forget(1);
    assert.deepEqual(workersOf(), [1, 2, 2]);
    assert.equal(sent[2]!.seq, sent[0]!.seq);
    listeners.confirm(2, sent[1]!.seq, true);
    await client();
    assert.deepEqual(workersOf(), [1, 2, 2, 2]);
  });

  test('a channel that refuses a connection takes that worker out; the connection goes elsewhere', async (t) => {
    const { listeners, sent, client, workersOf } = await rig(t);
    listeners.setAccepting([1, 2]);
    await client();
    sent[0]!.done(new Error('channel closed'));
    assert.deepEqual(workersOf(), [1, 2]);
    listeners.confirm(2, sent[1]!.seq, true);
    await client();
    assert.deepEqual(workersOf(), [1, 2, 2], 'worker 1 is skipped');
  });

  test('dropWaiting closes what no worker took', async (t) => {
    const { listeners, client } = await rig(t);
    const socket = await client();
    const closed = once(socket, 'close');
    assert.equal(listeners.dropWaiting(), 1);
    await closed;
    assert.equal(listeners.counts.waiting, 0);
  });
});

describe('Listeners: shedding connections that wait too long (--shed-delay)', () => {
  test('a connection that waited longer than the shed delay for busy workers gets a 503', async (t) => {
    const { listeners, clock, client, sweep } = await rig(t, 250);
    listeners.setAccepting([1]);
    await client();
    await client();
    const late = await client();
    let answer = '';
    late.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    const ended = once(late, 'end');
    clock.now += 250;
    sweep();
    assert.equal(listeners.counts.shed, 0, 'waiting exactly the delay is not too long');
    clock.now += 1;
    sweep();
    await ended;
    assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(answer, /\r\nretry-after: 1\r\n/);
    assert.match(answer, /"code":"PRG_OVERLOADED"/);
    assert.deepEqual(listeners.counts, { waiting: 0, inFlight: 2, handedOver: 0, shed: 1 });
  });

  test('never while no worker is ready: a replacement is coming', async (t) => {
    const { listeners, clock, client, sweep } = await rig(t, 250);
    await client();
    clock.now += 10_000;
    sweep();
    assert.deepEqual(listeners.counts, { waiting: 1, inFlight: 0, handedOver: 0, shed: 0 });
    listeners.setAccepting([1]);
    assert.equal(listeners.counts.inFlight, 1, 'it goes to the first worker ready');
  });

  test('off with a shed delay of 0', async (t) => {
    const { listeners, clock, client, sweep } = await rig(t, 0);
    listeners.setAccepting([1]);
    for (let i = 0; i < 3; i++) await client();
    clock.now += 60_000;
    sweep();
    assert.deepEqual(listeners.counts, { waiting: 1, inFlight: 2, handedOver: 0, shed: 0 });
  });
});
