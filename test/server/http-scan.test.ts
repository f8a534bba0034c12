/**
 * The engine's incremental head scanner (src/server/http1/scan.ts): what it serves, what it
 * refuses and where, what it hands to node:http, and that its work is linear in the head's size
 * whatever the reads the head arrives in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  HAND_OFF,
  HeadScanner,
  NEED_MORE,
  type ParsedHead,
  REFUSE,
} from '../../src/server/http1/scan.ts';

const LIMIT = 16 * 1024;

/** Scans `parts` in turn; returns the verdict, the part index it came at, and the head. */
function scanParts(parts: Buffer[], limit = LIMIT) {
  const scanner = new HeadScanner(limit);
  for (let p = 0; p < parts.length; p++) {
    const chunk = parts[p]!;
    const end = scanner.scan(chunk, 0);
    if (end === NEED_MORE) continue;
    if (end < 0) return { verdict: end, part: p, head: null, scanner };
    return { verdict: end, part: p, head: scanner.head(chunk, end), scanner };
  }
  return { verdict: NEED_MORE, part: parts.length, head: null, scanner };
}

const bytes = (s: string) => Buffer.from(s, 'latin1');
const oneByOne = (s: string) => [...s].map(bytes);

test('a typical head is served: method, target, lower-cased headers, length, close', () => {
  const { verdict, head } = scanParts([
    bytes(
      'POST /a/b?c=d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Tab:  a\tb \t\r\nContent-Length: 0012\r\nConnection: Close\r\n\r\nrest',
    ),
  ]);
  assert.ok(verdict > 0);
  assert.deepEqual(head, {
    method: 'POST',
    url: '/a/b?c=d',
    headers: {
      host: 'x',
      'content-type': 'application/json',
      'x-tab': 'a\tb',
      'content-length': '0012',
      connection: 'Close',
    },
    length: 12,
    close: true,
  } satisfies ParsedHead);
});

test('empty lines before the request line are skipped; QUERY is served', () => {
  const { head } = scanParts([bytes('\r\n\n\rQUERY /q HTTP/1.1\r\nHost: x\r\n\r\n')]);
  assert.equal(head?.method, 'QUERY');
});

for (const [name, raw, verdict] of [
  ['a lowercase method', 'g', REFUSE],
  ['a method prefix no method has', 'GEX', REFUSE],
  ['a method that is not followed by a space', 'GET\t', REFUSE],
  ['another llhttp method', 'PROPFIND ', HAND_OFF],
  ['an RTSP method', 'DESCRIBE ', HAND_OFF],
  ['an absolute-form target', 'GET h', HAND_OFF],
  ['an asterisk target', 'OPTIONS *', HAND_OFF],
  ['a control character in the target', 'GET /a\x01', REFUSE],
  ['obs-text in the target', 'GET /caf\xe9', REFUSE],
  ['a tab in the target', 'GET /a\t', HAND_OFF],
  ['HTTP/1.0', 'GET / HTTP/1.0', HAND_OFF],
  ['HTTP/2.0', 'GET / HTTP/2', HAND_OFF],
  ['a misspelt protocol', 'GET / HTTQ', REFUSE],
  ['a bare LF after the request line', 'GET / HTTP/1.1\n', HAND_OFF],
  ['a CR not followed by LF', 'GET / HTTP/1.1\rX', REFUSE],
  ['a space opening the first header line', 'GET / HTTP/1.1\r\n ', HAND_OFF],
  ['an obs-fold after a header', 'GET / HTTP/1.1\r\nA: b\r\n ', REFUSE],
  ['a space before the colon', 'GET / HTTP/1.1\r\nA ', REFUSE],
  ['a colon opening a line', 'GET / HTTP/1.1\r\n:', REFUSE],
  ['a NUL in a value', 'GET / HTTP/1.1\r\nA: b\x00', REFUSE],
  ['a bare LF ending a value', 'GET / HTTP/1.1\r\nA: b\n', REFUSE],
  ['a bare LF ending an empty value', 'GET / HTTP/1.1\r\nA: \n', HAND_OFF],
  ['Transfer-Encoding', 'POST / HTTP/1.1\r\nTransfer-Encoding:', HAND_OFF],
  ['Expect', 'POST / HTTP/1.1\r\nexpect:', HAND_OFF],
  ['Upgrade', 'GET / HTTP/1.1\r\nUPGRADE:', HAND_OFF],
  ['Proxy-Connection', 'GET / HTTP/1.1\r\nProxy-Connection:', HAND_OFF],
  ['a second Content-Length', 'POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length:', REFUSE],
  ['a sign in Content-Length', 'POST / HTTP/1.1\r\nContent-Length: +', REFUSE],
  ['an empty Content-Length', 'POST / HTTP/1.1\r\nContent-Length: \r', REFUSE],
  ['two numbers in Content-Length', 'POST / HTTP/1.1\r\nContent-Length: 1 2', REFUSE],
  ['a Content-Length of 2^64', 'POST / HTTP/1.1\r\nContent-Length: 18446744073709551616', REFUSE],
] as const) {
  test(`${name}: ${verdict === REFUSE ? 'refused' : 'handed off'} at its last byte`, () => {
    // Whatever the reads, the verdict comes with the byte that decides it, not before or after.
    const whole = scanParts([bytes(raw)]);
    assert.equal(whole.verdict, verdict);
    const bytewise = scanParts(oneByOne(raw));
    assert.equal(bytewise.verdict, verdict);
    assert.equal(bytewise.part, raw.length - 1, 'decided by the last byte');
  });
}

for (const [name, raw] of [
  ['no Host', 'GET / HTTP/1.1\r\nA: b\r\n\r\n'],
  ['a repeated header', 'GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\na: 2\r\n\r\n'],
  ['another Connection value', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n'],
  ['a __proto__ header', 'GET / HTTP/1.1\r\nHost: x\r\n__proto__: y\r\n\r\n'],
  [
    'a Content-Length of 16 digits',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000\r\n\r\n',
  ],
] as const) {
  test(`${name}: complete, but handed to node:http`, () => {
    const { verdict, head } = scanParts([bytes(raw)]);
    assert.ok(verdict > 0);
    assert.equal(head, null);
  });
}

test('a head over the limit is handed off, whether it ends or not', () => {
  const big = `GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(2000)}`;
  assert.equal(scanParts([bytes(big)], 1024).verdict, HAND_OFF);
  assert.equal(scanParts([bytes(`${big}\r\n\r\n`)], 1024).verdict, HAND_OFF);
  assert.equal(scanParts([bytes(`\r\n`.repeat(600))], 1024).verdict, HAND_OFF);
});

test('a hand-off gives back every byte of the head, from every read', () => {
  const raw = 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
  const scanner = new HeadScanner(LIMIT);
  const parts = [bytes(raw.slice(0, 7)), bytes(raw.slice(7, 30)), bytes(raw.slice(30))];
  assert.equal(scanner.scan(parts[0]!, 0), NEED_MORE);
  assert.equal(scanner.scan(parts[1]!, 0), NEED_MORE);
  assert.equal(scanner.scan(parts[2]!, 0), HAND_OFF);
  assert.equal(scanner.handOffBytes(parts[2]!, scanner.from)?.toString('latin1'), raw);
});

// A generator of heads the engine serves, to check that reads do not change the result.
const TOKEN = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);
const VALUE = fc
  .array(
    fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f),
    { maxLength: 60 },
  )
  .map((codes) => Buffer.from(codes).toString('latin1').trim());
const SERVED_HEAD = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'QUERY'),
    path: fc.stringMatching(/^\/[\x21-\x7e]{0,80}$/),
    headers: fc.uniqueArray(fc.tuple(TOKEN, VALUE), {
      maxLength: 30,
      selector: ([name]) => name.toLowerCase(),
    }),
    length: fc.integer({ min: 0, max: 1e9 }),
  })
  .map(({ method, path, headers, length }) => {
    const fields = headers.filter(
      ([n]) =>
        !/^(host|content-length|transfer-encoding|expect|upgrade|connection|proxy-connection|http2-settings|__proto__)$/i.test(
          n,
        ),
    );
    const lines = fields.map(([n, v]) => `${n}: ${v}\r\n`).join('');
    return `${method} ${path} HTTP/1.1\r\nHost: h\r\n${lines}Content-Length: ${length}\r\n\r\n`;
  });

test('property: any split of a served head gives the same head, with linear work', () => {
  fc.assert(
    fc.property(
      SERVED_HEAD,
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.boolean(),
      (raw, cuts, bytewise) => {
        const whole = scanParts([bytes(raw)]);
        assert.ok(whole.head !== null, raw);
        let parts: Buffer[];
        if (bytewise) parts = oneByOne(raw);
        else {
          const points = [...new Set(cuts.map((c) => c % raw.length))].sort((a, b) => a - b);
          parts = [];
          let from = 0;
          for (const p of points) {
            parts.push(bytes(raw.slice(from, p)));
            from = p;
          }
          parts.push(bytes(raw.slice(from)));
        }
        const split = scanParts(parts);
        assert.deepEqual(split.head, whole.head);
        // Looked at once, copied once (plus doubling), decoded once.
        assert.ok(split.scanner.work <= 5 * raw.length, `${split.scanner.work} for ${raw.length}`);
      },
    ),
    { seed: 14, numRuns: 400 },
  );
});

test('a 16 KiB head a byte at a time: work grows linearly with its size', () => {
  const work = (size: number) => {
    const raw = `GET / HTTP/1.1\r\nHost: x\r\nX: ${'v'.repeat(size)}\r\n\r\n`;
    const { head, scanner } = scanParts(oneByOne(raw), 64 * 1024);
    assert.ok(head !== null);
    return scanner.work / raw.length;
  };
  const small = work(1024);
  const large = work(16 * 1024);
  assert.ok(
    large <= 5 && large < small * 1.5,
    `work per byte: ${small} at 1 KiB, ${large} at 16 KiB`,
  );
});
