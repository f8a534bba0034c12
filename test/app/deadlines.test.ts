import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineList } from '../../src/app/deadlines.ts';
import type { Request } from '../../src/app/request.ts';
import type { RawResponse } from '../../src/app/transport.ts';
import { App } from '../../src/index.ts';
import { TestClient } from '../../src/testing/index.ts';

const out = {} as RawResponse;
function req(deadline: number): Request {
  return { deadline, deadlineLink: undefined } as unknown as Request;
}

test('the in-flight list gives back expired requests oldest first and unlinks from anywhere', () => {
  const list = new DeadlineList();
  const [a, b, c, d] = [req(10), req(20), req(30), req(40)];
  for (const r of [a, b, c, d]) list.push(r, out);
  assert.equal(list.remove(b), true);
  assert.equal(list.remove(b), false, 'a request is removed once');
  assert.equal(list.shiftExpired(5), undefined, 'nothing expired yet');
  assert.equal(list.shiftExpired(35)?.req, a);
  assert.equal(list.shiftExpired(35)?.req, c);
  assert.equal(list.shiftExpired(35), undefined, 'd is not due');
  assert.equal(list.remove(d), true);
  assert.equal(list.shiftExpired(100), undefined, 'empty');
  list.push(a, out);
  assert.equal(list.shiftExpired(100)?.req, a, 'usable again once empty');
});

test('only the requests past their deadline are answered 503, the others complete', async () => {
  const app = new App({ logger: false, requestTimeout: 150 });
  app.addRoute('/wait/{ms:int}', {
    async onGet(_req, resp, params: { ms?: unknown }) {
      await new Promise((resolve) => setTimeout(resolve, params.ms as number));
      resp.media = { waited: params.ms };
    },
  });
  const client = new TestClient(app);
  const results = await Promise.all(
    [400, 10, 300, 20, 30].map((ms) => client.get(`/wait/${ms}`).then((r) => r.status)),
  );
  assert.deepEqual(results, [503, 200, 503, 200, 200]);
  assert.equal(app.deadlinesExpired, 2);
});
