/**
 * `npm run bench:http1`: the HTTP/1.1 engine's own work per request, in process and without a
 * network: a fake socket feeds request bytes to a connection, a listener answers at once, and the
 * response bytes are counted and dropped. It measures what the engine adds (head parsing,
 * dispatch, response head writing) apart from the App and the kernel, in ns per request, and
 * what a request allocates: the npm script fixes the young generation at 16 MiB, so each
 * scavenge stands for 16 MiB allocated. Shapes: one small GET per read (keep-alive), 16
 * pipelined GETs per read, and a head split over two reads. Takes about 20 s; run it under the
 * load lock on a quiet machine.
 *
 *   flock /tmp/peregrine-load.lock npm run bench:http1 [-- --rounds 5 --requests 300000]
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Http1Engine } from '../src/server/http1/engine.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '300000' },
  },
});
const rounds = Math.max(1, Number(values.rounds));
const perRound = Math.max(10_000, Number(values.requests));

/** What wrk sends in `npm run bench` (json test). */
const HEAD =
  'GET /json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: application/json,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\nConnection: keep-alive\r\n\r\n';
const BODY = '{"message":"Hello, World!"}';
const RESPONSE_HEADERS = { 'content-type': 'application/json' };

/** The parts of a net.Socket the engine uses; writes are counted and dropped. */
class FakeSocket extends EventEmitter {
  written = 0;
  writableLength = 0;
  bytesWritten = 0;
  remoteAddress = '127.0.0.1';
  allowHalfOpen = false;
  destroyed = false;
  setNoDelay(): this {
    return this;
  }
  write(data: string | Uint8Array): boolean {
    this.written += data.length;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

const engine = new Http1Engine(
  (_req, res) => {
    res.writeHead(200, RESPONSE_HEADERS);
    res.end(BODY);
  },
  createServer(),
  {
    keepAliveTimeout: 75_000,
    headersTimeout: 20_000,
    receiveTimeout: 60_000,
    sendTimeout: 60_000,
    maxHeaderSize: 16 * 1024,
    checkInterval: 1000,
  },
);

interface Shape {
  name: string;
  /** Reads that make up one batch. */
  reads: Buffer[];
  /** Requests per batch. */
  requests: number;
}

const one = Buffer.from(HEAD, 'latin1');
const split = one.length >> 1;
const shapes: Shape[] = [
  { name: 'one GET per read', reads: [one], requests: 1 },
  {
    name: '16 pipelined GETs per read',
    reads: [Buffer.from(HEAD.repeat(16), 'latin1')],
    requests: 16,
  },
  {
    name: 'a head split over two reads',
    reads: [one.subarray(0, split), one.subarray(split)],
    requests: 1,
  },
];

let scavenges = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as { detail?: { kind?: number } }).detail?.kind === 1) scavenges++;
  }
});
observer.observe({ entryTypes: ['gc'] });

async function runShape(shape: Shape, total: number): Promise<{ ns: number; gcPer100k: number }> {
  const socket = new FakeSocket();
  engine.serve(socket as unknown as Socket);
  const batches = Math.ceil(total / shape.requests);
  const before = scavenges;
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    for (const read of shape.reads) socket.emit('data', read);
  }
  const ns = Number(process.hrtime.bigint() - start) / (batches * shape.requests);
  socket.emit('close');
  // The observer hears of collections after the fact, from a later turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { ns, gcPer100k: ((scavenges - before) * 100_000) / (batches * shape.requests) };
}

// Warm up every shape (JIT), then measure rounds interleaved.
for (const shape of shapes) await runShape(shape, 100_000);
const results = new Map<string, { ns: number[]; gc: number[] }>();
for (let r = 0; r < rounds; r++) {
  for (const shape of shapes) {
    const res = await runShape(shape, perRound);
    const entry = results.get(shape.name) ?? { ns: [], gc: [] };
    entry.ns.push(res.ns);
    entry.gc.push(res.gcPer100k);
    results.set(shape.name, entry);
  }
}
observer.disconnect();
engine.stop();
/** The young generation's size when the npm script fixed it (MiB), else unknown. */
const semiSpace = Number(
  /--max-semi-space-size=(\d+)/.exec(process.execArgv.join(' '))?.[1] ?? Number.NaN,
);
console.log(`node ${process.version}, ${rounds} rounds of ${perRound} requests (median)`);
for (const [name, { ns, gc }] of results) {
  const bytes = Number.isNaN(semiSpace)
    ? ''
    : `  ~${Math.round((median(gc) * semiSpace * 1024 * 1024) / 100_000)} B/request allocated`;
  console.log(
    `${name.padEnd(30)} ${median(ns).toFixed(0).padStart(6)} ns/request  ${median(gc).toFixed(1).padStart(5)} scavenges/100k${bytes}`,
  );
}
