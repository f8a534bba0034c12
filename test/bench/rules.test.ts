import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORTUNES } from '../../bench/lib/database.ts';
import {
  charset,
  checkFortunes,
  checkHeaders,
  checkJson,
  checkPlaintext,
  checkSingleWorld,
  checkWorldArray,
  type Exchange,
  essence,
  worldProblem,
  worldsMismatch,
} from '../../bench/lib/rules.ts';
import {
  clampQueries,
  escapeHtml,
  renderFortunes,
  withExtraFortune,
} from '../../bench/servers/common/rules.ts';

const DATE = 'Sat, 28 Nov 2026 14:52:49 GMT';

function ex(
  body: string | Buffer,
  type: string,
  headers: Record<string, string | undefined> = {},
): Exchange {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return {
    status: 200,
    headers: {
      server: 'x',
      date: DATE,
      'content-type': type,
      'content-length': String(buf.length),
      ...headers,
    },
    body: buf,
  };
}

test('json: the exact object, as application/json, with Server, Date and a right length', () => {
  assert.deepEqual(checkJson(ex('{"message":"Hello, World!"}', 'application/json')), []);
  assert.deepEqual(
    checkJson(ex('{"message":"Hello, World!"}', 'application/json; charset=utf-8')),
    [],
  );
  assert.deepEqual(
    checkJson(
      ex('{"message":"Hello, World!"}', 'application/json', {
        'content-length': undefined,
        'transfer-encoding': 'chunked',
      }),
    ),
    [],
  );
  assert.match(
    checkJson(ex('{"message":"Hello, World!"}', 'application/json', { server: undefined })).join(),
    /no Server header/,
  );
  assert.match(
    checkJson(ex('{"message":"Hello, World!"}', 'application/json', { date: undefined })).join(),
    /no Date header/,
  );
  assert.match(
    checkJson(ex('{"message":"Hello, World!"}', 'application/json', { date: 'yesterday' })).join(),
    /not an HTTP date/,
  );
  assert.match(
    checkJson(ex('{"message":"Hello, World!"}', 'text/plain')).join(),
    /Content-Type "text\/plain", not application\/json/,
  );
  assert.match(
    checkJson(
      ex('{"message":"Hello, World!"}', 'application/json', { 'content-length': '99' }),
    ).join(),
    /Content-Length 99 but 27/,
  );
  assert.match(
    checkJson(
      ex('{"message":"Hello, World!"}', 'application/json', { 'content-length': undefined }),
    ).join(),
    /neither Content-Length nor chunked/,
  );
  assert.match(
    checkJson(ex('{"message":"Hello"}', 'application/json')).join(),
    /is not \{"message":"Hello, World!"\}/,
  );
  assert.match(
    checkJson(ex('{"message":"Hello, World!","x":1}', 'application/json')).join(),
    /is not/,
  );
  assert.match(checkJson(ex('nope', 'application/json')).join(), /not JSON/);
  assert.match(
    checkJson({ ...ex('{"message":"Hello, World!"}', 'application/json'), status: 500 }).join(),
    /status 500/,
  );
});

test('plaintext: exactly Hello, World! as text/plain', () => {
  assert.deepEqual(checkPlaintext(ex('Hello, World!', 'text/plain; charset=utf-8')), []);
  assert.match(
    checkPlaintext(ex('Hello, World!\n', 'text/plain')).join(),
    /is not "Hello, World!"/,
  );
  assert.match(checkPlaintext(ex('Hello, World!', 'text/html')).join(), /not text\/plain/);
});

test('media type helpers', () => {
  assert.equal(essence('Application/JSON; charset=utf-8'), 'application/json');
  assert.equal(essence(undefined), '');
  assert.equal(charset('text/html; charset="UTF-8"'), 'utf-8');
  assert.equal(charset('text/html'), undefined);
  assert.deepEqual(checkHeaders(ex('', 'text/html'), 'text/html'), []);
});

test('World rows: exactly id and randomNumber, integers in 1..10,000', () => {
  assert.equal(worldProblem({ id: 1, randomNumber: 10_000 }), undefined);
  assert.match(worldProblem({ id: 0, randomNumber: 5 })!, /id 0 is not an integer/);
  assert.match(worldProblem({ id: 1, randomNumber: 10_001 })!, /randomNumber/);
  assert.match(worldProblem({ id: '1', randomNumber: 5 })!, /id "1"/);
  assert.match(worldProblem({ id: 1, randomnumber: 5 })!, /keys id, randomnumber/);
  assert.match(worldProblem({ id: 1, randomNumber: 5, extra: 1 })!, /keys/);
  assert.match(worldProblem([{ id: 1, randomNumber: 5 }])!, /not an object/);
  assert.match(worldProblem(null)!, /not an object/);
});

test('db is one object; the query tests an array of exactly N', () => {
  const one = checkSingleWorld(ex('{"id":3,"randomNumber":4}', 'application/json'));
  assert.deepEqual(one, { problems: [], row: { id: 3, randomNumber: 4 } });
  assert.match(
    checkSingleWorld(ex('[{"id":3,"randomNumber":4}]', 'application/json')).problems.join(),
    /not an object/,
  );
  const rows = JSON.stringify([
    { id: 1, randomNumber: 2 },
    { id: 3, randomNumber: 4 },
  ]);
  assert.deepEqual(checkWorldArray(ex(rows, 'application/json'), 2).problems, []);
  assert.match(checkWorldArray(ex(rows, 'application/json'), 3).problems.join(), /2 rows, not 3/);
  assert.match(
    checkWorldArray(ex('{"id":3,"randomNumber":4}', 'application/json'), 1).problems.join(),
    /not a JSON array/,
  );
  assert.match(
    checkWorldArray(ex('[{"id":3}]', 'application/json'), 1).problems.join(),
    /keys id are not/,
  );
});

test('rows must match the database; a repeated id may hold any value sent for it', () => {
  const stored = new Map([
    [1, 10],
    [2, 20],
  ]);
  assert.deepEqual(worldsMismatch([{ id: 1, randomNumber: 10 }], stored), []);
  assert.deepEqual(
    worldsMismatch(
      [
        { id: 2, randomNumber: 5 },
        { id: 2, randomNumber: 20 },
      ],
      stored,
    ),
    [],
  );
  assert.match(
    worldsMismatch([{ id: 1, randomNumber: 11 }], stored).join(),
    /row 1: sent 11, the database holds 10/,
  );
  assert.match(worldsMismatch([{ id: 3, randomNumber: 1 }], stored).join(), /row 3/);
});

test('the query count: missing, not an integer or below 1 is 1; above 500 is 500', () => {
  assert.equal(clampQueries(undefined), 1);
  assert.equal(clampQueries(null), 1);
  assert.equal(clampQueries(''), 1);
  assert.equal(clampQueries('foo'), 1);
  assert.equal(clampQueries('0'), 1);
  assert.equal(clampQueries('-3'), 1);
  assert.equal(clampQueries('20'), 20);
  assert.equal(clampQueries('500'), 500);
  assert.equal(clampQueries('501'), 500);
  assert.equal(clampQueries('1e9'), 1);
});

const HTML = 'text/html; charset=utf-8';

test('fortunes: the shared renderer passes the check', () => {
  const page = renderFortunes(withExtraFortune(FORTUNES));
  assert.deepEqual(checkFortunes(ex(page, HTML), FORTUNES), []);
  // Whitespace between tags and other escapes of the same text are fine.
  const spaced = page.replaceAll('<tr>', '\n  <tr>').replaceAll('&#39;', '&#x27;');
  assert.deepEqual(checkFortunes(ex(spaced, HTML), FORTUNES), []);
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
  );
  assert.equal(escapeHtml('plain'), 'plain');
});

test('fortunes: unescaped, unsorted, missing the extra row, stale or not UTF-8 all fail', () => {
  const sorted = withExtraFortune(FORTUNES);
  const unescaped = sorted.map((f) => `<tr><td>${f.id}</td><td>${f.message}</td></tr>`).join('');
  const head =
    '<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>';
  const tail = '</table></body></html>';
  assert.match(
    checkFortunes(ex(head + unescaped + tail, HTML), FORTUNES).join(),
    /unexpected markup/,
  );

  const unsorted = renderFortunes([...sorted].reverse());
  assert.match(checkFortunes(ex(unsorted, HTML), FORTUNES).join(), /row 1 is/);

  const noExtra = renderFortunes(sorted.filter((f) => f.id !== 0));
  assert.match(checkFortunes(ex(noExtra, HTML), FORTUNES).join(), /12 fortunes, not 13/);

  const stale = renderFortunes(withExtraFortune(FORTUNES.slice(1)));
  assert.match(checkFortunes(ex(stale, HTML), FORTUNES).join(), /12 fortunes, not 13/);

  const page = renderFortunes(sorted);
  assert.match(
    checkFortunes(ex(page, 'text/html'), FORTUNES).join(),
    /does not declare charset=utf-8/,
  );
  const latin1 = Buffer.from(page, 'latin1');
  assert.match(checkFortunes(ex(latin1, HTML), FORTUNES).join(), /not valid UTF-8|row/);

  const ampersand = page.replace('&amp;', '&');
  const withRawAmp =
    ampersand === page ? page.replace('decimal places', 'decimal & places') : ampersand;
  assert.match(checkFortunes(ex(withRawAmp, HTML), FORTUNES).join(), /unescaped "&"|row/);

  assert.match(
    checkFortunes(ex(page.replace('<title>Fortunes</title>', ''), HTML), FORTUNES).join(),
    /template's head/,
  );
});
