/**
 * Differential fuzzing of Peregrine's HTTP/1.1 engine against node:http. Each case is a byte
 * stream (one or more requests, valid ones mutated) written in parts; the same parts go over
 * real sockets to the engine (with its node:http fallback) and to a plain node:http server, both
 * with `serve()`'s limits and its clientError handler, and each server's request listener records what it was
 * given. The two must agree on:
 *
 * - where each request ends and the next begins: the requests dispatched, in order, with their
 *   method, target, version, headers and body bytes, and whether the body completed;
 * - accept or refuse: whether the HTTP layer refused the connection (the engine's own 400, or a
 *   parse error of node:http's parser, on either server).
 *
 * What is not compared, on purpose:
 * - answers' bytes (the engine writes its own heads; the App is not the subject here);
 * - when a refusal comes (the engine refuses at the first byte no valid request can have,
 *   llhttp sometimes a few bytes later), only that it comes;
 * - node:http's HPE_CLOSED_CONNECTION (bytes after a request that closes the connection): the
 *   engine drops them without a word, node:http's parser reports them, neither dispatches them;
 * - clients' and servers' half-closes: no case ends with a FIN.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, Server as NetServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { Http1Engine } from '../../src/server/http1/engine.ts';
import { answerClientError } from '../../src/server/http1/refusals.ts';

/** One fuzz case: the parts written, in order, each as latin1 text (one byte per char). */
export interface FuzzCase {
  readonly parts: readonly string[];
}

/** What one server did with a case's connection. */
export interface Outcome {
  requests: {
    method: string;
    url: string;
    version: string;
    headers: string;
    body: string;
    complete: boolean;
  }[];
  refused: boolean;
  /** Diagnostics only: the parse errors and refusals seen. */
  errors: string[];
}

/** Parse errors that are not a refusal of a request (see the module comment). */
const NOT_REFUSALS = new Set(['HPE_CLOSED_CONNECTION', 'ECONNRESET', 'EPIPE']);

const LIMITS = {
  keepAliveTimeout: 5000,
  headersTimeout: 10_000,
  receiveTimeout: 20_000,
  sendTimeout: 20_000,
  maxHeaderSize: 16 * 1024,
  checkInterval: 1000,
};

/** Both servers, and the outcome of each connection (by the client's port). */
export class HttpDiffer {
  readonly #outcomes = new Map<string, Outcome>();
  readonly #sockets = new Map<string, Socket>();
  readonly #closers: (() => Promise<void>)[] = [];
  #enginePort = 0;
  #nodePort = 0;

  /** Starts the two servers on ephemeral ports. */
  static async start(): Promise<HttpDiffer> {
    const differ = new HttpDiffer();
    await differ.#listen();
    return differ;
  }

  async #listen(): Promise<void> {
    const listener = (req: IncomingMessage, res: ServerResponse) => this.#record(req, res);
    const nodeOptions = {
      keepAliveTimeout: LIMITS.keepAliveTimeout,
      headersTimeout: LIMITS.headersTimeout,
      requestTimeout: LIMITS.receiveTimeout,
      maxHeaderSize: LIMITS.maxHeaderSize,
      noDelay: true,
    };
    const node = createServer(nodeOptions, listener);
    this.#watch(node, 'node');
    node.on('connection', (socket: Socket) => this.#track('node', socket));
    this.#nodePort = await listenOn(node);
    this.#closers.push(() => closeServer(node));

    const fallback = createServer(nodeOptions, listener);
    this.#watch(fallback, 'engine');
    const engine = new Http1Engine(
      listener as unknown as ConstructorParameters<typeof Http1Engine>[0],
      fallback,
      LIMITS,
      {
        onRefused: (socket) => {
          const outcome = this.#outcomes.get(key('engine', socket));
          if (outcome === undefined) return;
          outcome.refused = true;
          outcome.errors.push('engine 400');
        },
      },
    );
    engine.start();
    fallback.emit('listening');
    const front = new NetServer({ noDelay: true }, (socket) => {
      this.#track('engine', socket);
      engine.serve(socket);
    });
    this.#enginePort = await listenOn(front);
    this.#closers.push(async () => {
      engine.stop();
      engine.closeAll();
      fallback.close();
      await closeServer(front);
    });
  }

  /** node:http's refusals, recorded after the handler serve() installs has answered. */
  #watch(server: Server, side: string): void {
    server.on('clientError', answerClientError);
    server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
      const outcome = this.#outcomes.get(key(side, socket));
      if (outcome === undefined) return;
      const code = err.code ?? err.message;
      outcome.errors.push(code);
      if (!NOT_REFUSALS.has(code)) outcome.refused = true;
    });
  }

  #track(side: string, socket: Socket): void {
    const k = key(side, socket);
    this.#outcomes.set(k, { requests: [], refused: false, errors: [] });
    this.#sockets.set(k, socket);
  }

  #record(req: IncomingMessage, res: ServerResponse): void {
    const side = req.socket.localPort === this.#nodePort ? 'node' : 'engine';
    const outcome = this.#outcomes.get(key(side, req.socket));
    const entry = {
      method: req.method ?? '',
      url: req.url ?? '',
      version: req.httpVersion,
      headers: canonicalHeaders(req.headers),
      body: '',
      complete: false,
    };
    outcome?.requests.push(entry);
    req.on('data', (chunk: Buffer) => {
      entry.body += chunk.toString('latin1');
    });
    req.on('end', () => {
      entry.complete = true;
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    req.on('error', () => {});
    req.resume();
  }

  /**
   * Runs a case against both servers; returns null when they agree, else what differs (with
   * both outcomes, for the report).
   */
  async run(c: FuzzCase): Promise<string | null> {
    const { engine, node } = await this.outcomes(c);
    const same =
      engine.refused === node.refused &&
      JSON.stringify(engine.requests) === JSON.stringify(node.requests);
    return same ? null : `engine: ${JSON.stringify(engine)}\nnode:   ${JSON.stringify(node)}`;
  }

  /** What each server did with a case. */
  async outcomes(c: FuzzCase): Promise<{ engine: Outcome; node: Outcome }> {
    const [engine, node] = await Promise.all([
      this.#open('engine', this.#enginePort),
      this.#open('node', this.#nodePort),
    ]);
    try {
      let sent = 0;
      for (const part of c.parts) {
        const bytes = Buffer.from(part, 'latin1');
        sent += bytes.length;
        if (!engine.client.destroyed) engine.client.write(bytes);
        if (!node.client.destroyed) node.client.write(bytes);
        await Promise.all([this.#taken(engine.key, sent), this.#taken(node.key, sent)]);
      }
      // Bodies end and answers go out in later turns of the event loop (node:http's 'end').
      await turns(3);
      return { engine: this.#outcomes.get(engine.key)!, node: this.#outcomes.get(node.key)! };
    } finally {
      engine.client.destroy();
      node.client.destroy();
      this.#outcomes.delete(engine.key);
      this.#outcomes.delete(node.key);
      this.#sockets.delete(engine.key);
      this.#sockets.delete(node.key);
    }
  }

  async #open(side: string, port: number): Promise<{ client: Socket; key: string }> {
    const client = connect({ host: '127.0.0.1', port });
    client.setNoDelay(true);
    client.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const k = `${side}:${client.localPort}`;
    // The server's side of the connection is known once its 'connection' event has run.
    for (let i = 0; i < 1000 && !this.#sockets.has(k); i++) await turns(1);
    if (!this.#sockets.has(k)) throw new Error(`the ${side} server never saw the connection`);
    return { client, key: k };
  }

  /** Waits until the server has read `sent` bytes of the connection, closed it, or refused. */
  async #taken(k: string, sent: number): Promise<void> {
    const socket = this.#sockets.get(k)!;
    const deadline = Date.now() + 300;
    while (socket.bytesRead < sent && !socket.destroyed && Date.now() < deadline) {
      await turns(1);
    }
  }

  /** Stops both servers. */
  async close(): Promise<void> {
    for (const close of this.#closers) await close();
  }
}

function key(side: string, socket: Socket): string {
  return `${side}:${socket.remotePort}`;
}

function canonicalHeaders(headers: IncomingMessage['headers']): string {
  return JSON.stringify(
    Object.keys(headers)
      .sort()
      .map((name) => [name, headers[name]]),
  );
}

function turns(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number) => (left === 0 ? resolve() : setImmediate(step, left - 1));
    step(n);
  });
}

function listenOn(server: NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => {
    (server as Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

// ---------------------------------------------------------------------------------------------
// The generator: valid requests, their framing variants, then byte mutations and split points.
// ---------------------------------------------------------------------------------------------

const weighted = <T>(...entries: [number, T][]): fc.Arbitrary<T> =>
  fc.oneof(...entries.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })));

const METHOD = weighted(
  [10, 'GET'],
  [8, 'POST'],
  [2, 'PUT'],
  [2, 'HEAD'],
  [2, 'DELETE'],
  [1, 'OPTIONS'],
  [1, 'PATCH'],
  [1, 'QUERY'],
  [1, 'PROPFIND'],
  [1, 'TRACE'],
  [1, 'get'],
  [1, 'GETT'],
  [1, 'PRI'],
  [1, 'DESCRIBE'],
  [1, 'M-SEARCH'],
);
const TARGET = weighted(
  [10, '/'],
  [6, '/a/b?c=d&e=f'],
  [1, '/%2e%2e/x'],
  [1, '*'],
  [1, 'http://h/x'],
  [1, '/a#f'],
  [1, '/caf\xe9'],
  [1, '/a"b{c}|d'],
  [1, '/a\tb'],
  [1, '/a\x01b'],
  [1, '//x'],
  [1, `/${'p'.repeat(300)}`],
);
const VERSION = weighted(
  [20, 'HTTP/1.1'],
  [2, 'HTTP/1.0'],
  [1, 'HTTP/2.0'],
  [1, 'HTTP/1.2'],
  [1, 'HTTP/0.9'],
  [1, 'http/1.1'],
  [1, 'HTTP/1.10'],
  [1, 'HTTP/1.1 '],
);
const EXTRA = weighted<[string, string]>(
  [4, ['Accept', '*/*']],
  [3, ['User-Agent', 'fuzz/1.0']],
  [2, ['Connection', 'close']],
  [2, ['Connection', 'keep-alive']],
  [1, ['Connection', 'Keep-Alive']],
  [1, ['Connection', 'close, foo']],
  [1, ['Connection', 'upgrade']],
  [1, ['Upgrade', 'websocket']],
  [1, ['Expect', '100-continue']],
  [1, ['Expect', 'nope']],
  [2, ['X-Tab', 'a\tb']],
  [2, ['X-Obs', 'caf\xe9\xff']],
  [2, ['X-Empty', '']],
  [2, ['X-Spaces', '  a  b  ']],
  [1, ['Cookie', 'a=b; c=d']],
  [1, ['Proxy-Connection', 'close']],
  [1, ['Keep-Alive', 'timeout=5']],
  [1, ['Transfer-Encoding', 'chunked']],
  [1, ['Content-Length', '0']],
  [1, ['__proto__', 'x']],
  [1, ['constructor', 'y']],
  [1, ['HTTP2-Settings', 'AAMAAABkAAQAAP__']],
  [1, ['X-Long', 'l'.repeat(600)]],
  [1, ['Host', 'other']],
  [1, ['X-Del', 'a\x7fb']],
  [1, ['x-lower', 'v']],
  [1, ['X-Colon', 'a: b']],
  [1, ['X-Quote', '"a,b"']],
);
const LENGTH_TEXT = weighted(
  [20, 'N'],
  [1, '0N'],
  [1, ' N'],
  [1, 'N '],
  [1, 'N\t'],
  [1, '+N'],
  [1, '-N'],
  [1, 'N,N'],
  [1, 'N, N'],
  [1, 'N N'],
  [1, ''],
  [1, 'x'],
  [1, 'N.0'],
  [1, '0xN'],
  [1, '00000000000000000000N'],
  [1, '99999999999999999999'],
  [1, '18446744073709551615'],
  [1, '1e3'],
);
const TE_TEXT = weighted(
  [10, 'chunked'],
  [1, 'Chunked'],
  [1, ' chunked'],
  [1, 'chunked '],
  [1, 'gzip, chunked'],
  [1, 'chunked, gzip'],
  [1, 'identity'],
  [1, 'gzip'],
  [1, 'xchunked'],
  [1, 'chunked, chunked'],
);
const FRAMING = weighted(
  [8, 'none'],
  [8, 'length'],
  [4, 'chunked'],
  [1, 'length+chunked'],
  [1, 'chunked+length'],
  [1, 'length twice'],
  [1, 'length twice, same'],
);
const CHUNK_STYLE = weighted(
  [8, 'plain'],
  [1, 'upper'],
  [1, 'zeros'],
  [1, 'extension'],
  [1, 'space'],
  [1, 'bad size'],
  [1, 'no CRLF after data'],
  [1, 'trailer'],
  [1, 'bare LF'],
  [1, 'huge'],
);

interface RequestSpec {
  method: string;
  target: string;
  version: string;
  host: number;
  extra: [string, string][];
  framing: string;
  lengthText: string;
  lengthDelta: number;
  te: string;
  body: string;
  chunks: number;
  chunkStyle: string;
}

const REQUEST: fc.Arbitrary<RequestSpec> = fc.record({
  method: METHOD,
  target: TARGET,
  version: VERSION,
  host: weighted([12, 1], [1, 0], [1, 2]),
  extra: fc.array(EXTRA, { maxLength: 4 }),
  framing: FRAMING,
  lengthText: LENGTH_TEXT,
  lengthDelta: weighted([12, 0], [1, -1], [1, 1], [1, 5]),
  te: TE_TEXT,
  body: fc.oneof(
    { weight: 3, arbitrary: fc.constant('hello world') },
    { weight: 1, arbitrary: fc.constant('GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n') },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
        .map((bytes) => Buffer.from(bytes).toString('latin1')),
    },
  ),
  chunks: fc.integer({ min: 1, max: 3 }),
  chunkStyle: CHUNK_STYLE,
});

function chunked(body: string, pieces: number, style: string): string {
  const size = Math.max(1, Math.ceil(body.length / pieces));
  let out = '';
  for (let i = 0; i < body.length; i += size) {
    const data = body.slice(i, i + size);
    let hex = data.length.toString(16);
    if (style === 'upper') hex = hex.toUpperCase();
    if (style === 'zeros') hex = `000${hex}`;
    if (style === 'extension') hex = `${hex};a=b`;
    if (style === 'space') hex = `${hex} `;
    if (style === 'bad size' && i === 0) hex = `${hex}g`;
    if (style === 'huge' && i === 0) hex = 'fffffffffffffffff';
    const eol = style === 'bare LF' ? '\n' : '\r\n';
    out += `${hex}${eol}${data}${style === 'no CRLF after data' ? '' : eol}`;
  }
  out += style === 'trailer' ? '0\r\nX-Trailer: t\r\n\r\n' : '0\r\n\r\n';
  return out;
}

function serialize(r: RequestSpec): string {
  let head = `${r.method} ${r.target} ${r.version}\r\n`;
  for (let i = 0; i < r.host; i++) head += 'Host: x\r\n';
  for (const [name, value] of r.extra) head += `${name}: ${value}\r\n`;
  let body = '';
  const length = (n: number) => r.lengthText.replaceAll('N', String(n));
  const n = Math.max(0, r.body.length + r.lengthDelta);
  switch (r.framing) {
    case 'length':
      head += `Content-Length: ${length(n)}\r\n`;
      body = r.body;
      break;
    case 'chunked':
      head += `Transfer-Encoding: ${r.te}\r\n`;
      body = chunked(r.body, r.chunks, r.chunkStyle);
      break;
    case 'length+chunked':
      head += `Content-Length: ${length(n)}\r\nTransfer-Encoding: ${r.te}\r\n`;
      body = chunked(r.body, r.chunks, r.chunkStyle);
      break;
    case 'chunked+length':
      head += `Transfer-Encoding: ${r.te}\r\nContent-Length: ${length(n)}\r\n`;
      body = chunked(r.body, r.chunks, r.chunkStyle);
      break;
    case 'length twice':
      head += `Content-Length: ${length(n)}\r\nContent-Length: ${n + 3}\r\n`;
      body = r.body;
      break;
    case 'length twice, same':
      head += `Content-Length: ${length(n)}\r\nContent-Length: ${length(n)}\r\n`;
      body = r.body;
      break;
  }
  return `${head}\r\n${body}`;
}

const INTERESTING = [
  ' ',
  '\t',
  '\r',
  '\n',
  ':',
  '\0',
  '\x01',
  '\x0b',
  '\x7f',
  '\x80',
  '\xff',
  '0',
  '9',
  'a',
  'Z',
  ',',
  ';',
  '"',
  '/',
  'H',
];

interface Mutation {
  kind: string;
  at: number;
  byte: string;
}

const MUTATION: fc.Arbitrary<Mutation> = fc.record({
  kind: weighted(
    [3, 'insert'],
    [3, 'delete'],
    [3, 'replace'],
    [2, 'bare LF'],
    [1, 'bare CR'],
    [1, 'fold'],
    [1, 'repeat line'],
  ),
  at: fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000),
  byte: fc.constantFrom(...INTERESTING),
});

function mutate(stream: string, m: Mutation): string {
  if (stream.length === 0) return stream;
  const at = Math.floor(m.at * stream.length);
  switch (m.kind) {
    case 'insert':
      return stream.slice(0, at) + m.byte + stream.slice(at);
    case 'delete':
      return stream.slice(0, at) + stream.slice(at + 1);
    case 'replace':
      return stream.slice(0, at) + m.byte + stream.slice(at + 1);
    default: {
      const eol = stream.indexOf('\r\n', at);
      if (eol === -1) return stream;
      if (m.kind === 'bare LF') return `${stream.slice(0, eol)}\n${stream.slice(eol + 2)}`;
      if (m.kind === 'bare CR') return `${stream.slice(0, eol)}\r${stream.slice(eol + 2)}`;
      if (m.kind === 'fold') return `${stream.slice(0, eol)}\r\n ${m.byte}${stream.slice(eol)}`;
      const start = stream.lastIndexOf('\r\n', at - 1) + 2;
      const line = stream.slice(start, eol + 2);
      return stream.slice(0, start) + line + stream.slice(start);
    }
  }
}

/** Fuzz cases: one to three requests, perhaps a plain GET last, mutated, split. */
export const FUZZ_CASE: fc.Arbitrary<FuzzCase> = fc
  .record({
    requests: fc.array(REQUEST, { minLength: 1, maxLength: 3 }),
    last: fc.boolean(),
    mutations: fc.oneof(
      { weight: 5, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 4, arbitrary: fc.array(MUTATION, { minLength: 1, maxLength: 3 }) },
    ),
    splits: fc.array(
      fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000),
      { maxLength: 4 },
    ),
    bytewise: weighted([30, false], [1, true]),
  })
  .map(({ requests, last, mutations, splits, bytewise }) => {
    let stream = requests.map(serialize).join('');
    if (last) stream += 'GET /last HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const m of mutations) stream = mutate(stream, m);
    if (bytewise && stream.length <= 200) return { parts: [...stream] };
    const cuts = [...new Set(splits.map((s) => Math.floor(s * stream.length)))]
      .filter((p) => p > 0)
      .sort((a, b) => a - b);
    const parts: string[] = [];
    let from = 0;
    for (const cut of cuts) {
      parts.push(stream.slice(from, cut));
      from = cut;
    }
    parts.push(stream.slice(from));
    return { parts };
  });
