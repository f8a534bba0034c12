import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs, QUICK_TESTS, UsageError } from '../../bench/lib/args.ts';
import { TEST_NAMES } from '../../bench/lib/catalogue.ts';

const env = { DATABASE_URL: 'postgres://u@db:5432/x' };

test('defaults: every test, 64 connections, 3 repeats of 8 s after 3 s warm-up', () => {
  const o = parseBenchArgs([], env);
  assert.equal(o.mode, 'techempower');
  assert.deepEqual(o.tests, [...TEST_NAMES]);
  assert.deepEqual(o.connections, [64]);
  assert.equal(o.repeats, 3);
  assert.equal(o.duration, 8);
  assert.equal(o.warmup, 3);
  assert.equal(o.queries, 20);
  assert.equal(o.pool, 16);
  assert.equal(o.load, 'auto');
  assert.equal(o.pin, true);
  assert.equal(o.servers, undefined);
  assert.equal(o.databaseUrl, env.DATABASE_URL);
  assert.deepEqual(o.scalingConnections, [100, 1000, 10_000]);
  assert.equal(o.scalingDelay, 50);
});

test('--quick shortens runs and picks the tests with targets; explicit values still win', () => {
  const q = parseBenchArgs(['--quick'], env);
  assert.deepEqual(q.tests, [...QUICK_TESTS]);
  assert.equal(q.repeats, 1);
  assert.equal(q.duration, 2);
  assert.equal(q.warmup, 1);
  assert.equal(q.quick, true);
  const o = parseBenchArgs(['--quick', '--only', 'updates', '--repeats', '2', '--duration=5'], env);
  assert.deepEqual(o.tests, ['updates']);
  assert.equal(o.repeats, 2);
  assert.equal(o.duration, 5);
});

test('--only keeps catalogue order and rejects unknown tests', () => {
  assert.deepEqual(parseBenchArgs(['--only', 'fortunes,json, db'], env).tests, [
    'json',
    'db',
    'fortunes',
  ]);
  assert.throws(() => parseBenchArgs(['--only', 'json,plain'], env), /unknown test "plain"/);
  assert.throws(() => parseBenchArgs(['--only', ','], env), UsageError);
});

test('lists of numbers, servers, load generator and flags', () => {
  const o = parseBenchArgs(
    [
      '-c',
      '16,64,256,64',
      '--servers',
      'peregrine,node,peregrine',
      '--load',
      'autocannon',
      '--no-pin',
      '--queries',
      '900',
      '--scaling',
      '--scaling-connections',
      '10,20',
      '--scaling-delay',
      '0',
      '--database-url',
      'postgres://other/db',
      '--output',
      '/tmp/x.json',
    ],
    env,
  );
  assert.deepEqual(o.connections, [16, 64, 256]);
  assert.deepEqual(o.servers, ['peregrine', 'node']);
  assert.equal(o.load, 'autocannon');
  assert.equal(o.pin, false);
  assert.equal(o.queries, 500, 'N is clamped like the tests clamp it');
  assert.equal(o.mode, 'scaling');
  assert.deepEqual(o.scalingConnections, [10, 20]);
  assert.equal(o.scalingDelay, 0);
  assert.equal(o.databaseUrl, 'postgres://other/db');
  assert.equal(o.output, '/tmp/x.json');
});

test('bad values are usage errors that say what is wrong', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--connections', '0'], /--connections must be at least 1/],
    [['--connections', 'many'], /--connections must be a whole number/],
    [['--repeats', '1.5'], /--repeats must be a whole number/],
    [['--duration', '0.5'], /--duration must be a number of seconds >= 1/],
    [['--warmup', '-1'], /--warmup/],
    [['--load', 'ab'], /--load must be wrk, autocannon or auto/],
    [['--servers', ''], /--servers needs at least one name/],
    [['--frobnicate'], /Unknown option/],
    [['positional'], /Unexpected argument|positional/i],
  ];
  for (const [argv, message] of bad) {
    assert.throws(
      () => parseBenchArgs(argv, env),
      (err: unknown) => {
        assert.ok(err instanceof UsageError, `${argv.join(' ')} throws a UsageError`);
        assert.match((err as Error).message, message);
        return true;
      },
    );
  }
});

test('--help and --list are modes', () => {
  assert.equal(parseBenchArgs(['-h'], env).mode, 'help');
  assert.equal(parseBenchArgs(['--list'], env).mode, 'list');
});

test('the database URL falls back to the shared test database', () => {
  assert.equal(parseBenchArgs([], {}).databaseUrl, 'postgres://postgres@127.0.0.1:5432/test');
});
