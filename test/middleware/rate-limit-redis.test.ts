import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { PolicySpec } from '../../src/middleware/index.ts';
import { redisStore } from '../../src/middleware/index.ts';
import { freePort } from '../helpers/prometheus.ts';
import { requireService } from '../helpers/services.ts';

const spec = (algorithm: PolicySpec['algorithm'], limit: number, windowMs: number): PolicySpec => ({
  id: `t-${algorithm}-${process.pid}-${Date.now()}`,
  algorithm,
  limit,
  windowMs,
  burst: limit,
});

describe('Redis store (the script against a real Redis)', () => {
  for (const algorithm of ['token-bucket', 'sliding-window'] as const) {
    test(`${algorithm}: spends the limit, then refuses with a wait; keys are apart`, async (t) => {
      const url = await requireService(t, 'redis');
      if (url === undefined) return;
      const store = redisStore({ redis: url, prefix: 'test:rl:' });
      const redis = new Redis(url);
      try {
        // A long window, so the refill during the test is far below one unit.
        const policy = spec(algorithm, 5, 600_000);
        const seen = [];
        for (let i = 0; i < 6; i++) seen.push(await store.consume(policy, 'a'));
        assert.deepEqual(
          seen.map((d) => d.allowed),
          [true, true, true, true, true, false],
        );
        assert.deepEqual(
          seen.map((d) => d.remaining),
          [4, 3, 2, 1, 0, 0],
        );
        const refused = seen[5]!;
        assert.ok(refused.retryAfterMs > 60_000, `wait ${refused.retryAfterMs} ms`);
        assert.ok(refused.resetMs > 0 && refused.resetMs <= 1_200_000, `reset ${refused.resetMs}`);
        assert.equal((await store.consume(policy, 'b')).allowed, true, 'another key');
        const ttl = await redis.pttl(`test:rl:${policy.id}:a`);
        assert.ok(ttl > 0, 'the state expires');
      } finally {
        redis.disconnect();
        await store.close?.();
      }
    });
  }

  test('the whole budget refills (token bucket, short window)', async (t) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return;
    const store = redisStore({ redis: url, prefix: 'test:rl:' });
    try {
      const policy = spec('token-bucket', 3, 300);
      for (let i = 0; i < 3; i++) assert.equal((await store.consume(policy, 'k')).allowed, true);
      const refused = await store.consume(policy, 'k');
      assert.equal(refused.allowed, false);
      await new Promise((r) => setTimeout(r, refused.retryAfterMs + 20));
      assert.equal((await store.consume(policy, 'k')).allowed, true);
    } finally {
      await store.close?.();
    }
  });

  test('no Redis on the port: consume rejects at once (the limiter then fails open or closed)', async () => {
    const port = await freePort();
    const store = redisStore({ redis: `redis://127.0.0.1:${port}`, timeoutMs: 200 });
    try {
      const t0 = performance.now();
      await assert.rejects(Promise.resolve(store.consume(spec('token-bucket', 1, 1000), 'k')));
      assert.ok(performance.now() - t0 < 2000);
    } finally {
      await store.close?.();
    }
  });
});
