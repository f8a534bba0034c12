import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUILTIN_CONVERTERS, parseConverterArgs } from '../../src/app/routing/converters.ts';

const make = (name: string, args = '') => BUILTIN_CONVERTERS[name]!(parseConverterArgs(args));

describe('converters', () => {
  test('int', () => {
    const c = make('int');
    assert.equal(c('42'), 42);
    assert.equal(c('-7'), -7);
    assert.equal(c(' 4'), undefined);
    assert.equal(c('4.0'), undefined);
    assert.equal(c('1e3'), undefined);
    assert.equal(c(''), undefined);
    assert.equal(c('99999999999999999999'), undefined);
    const three = make('int', '3');
    assert.equal(three('007'), 7);
    assert.equal(three('07'), undefined);
    const ranged = make('int', 'min=10, max=20');
    assert.equal(ranged('9'), undefined);
    assert.equal(ranged('15'), 15);
  });

  test('float', () => {
    const c = make('float', 'min=0');
    assert.equal(c('1.5'), 1.5);
    assert.equal(c('.5'), 0.5);
    assert.equal(c('-1'), undefined);
    assert.equal(c('NaN'), undefined);
    assert.equal(c('Infinity'), undefined);
    assert.equal(c('1e400'), undefined);
  });

  test('uuid', () => {
    const c = make('uuid');
    assert.equal(c('6F9619FF-8B86-D011-B42D-00C04FC964FF'), '6f9619ff-8b86-d011-b42d-00c04fc964ff');
    assert.equal(c('6f9619ff8b86d011b42d00c04fc964ff'), '6f9619ff-8b86-d011-b42d-00c04fc964ff');
    assert.equal(c('not-a-uuid'), undefined);
  });

  test('dt with the default and a custom format', () => {
    const c = make('dt');
    assert.deepEqual(c('2024-02-29T12:30:00Z'), new Date(Date.UTC(2024, 1, 29, 12, 30)));
    assert.equal(c('2023-02-29T12:30:00Z'), undefined, 'not a real date');
    const day = make('dt', '"%Y-%m-%d"');
    assert.deepEqual(day('2024-01-31'), new Date(Date.UTC(2024, 0, 31)));
    assert.equal(day('2024-1-31'), undefined);
    const zoned = make('dt', '"%Y-%m-%dT%H:%M%z"');
    assert.deepEqual(zoned('2024-01-31T10:00+02:00'), new Date(Date.UTC(2024, 0, 31, 8)));
  });

  test('argument parsing', () => {
    assert.deepEqual(parseConverterArgs('3, min=1, name="a,b"'), {
      positional: [3],
      named: { min: 1, name: 'a,b' },
    });
    assert.throws(() => parseConverterArgs('min=1, 3'));
    assert.throws(() => parseConverterArgs('"open'));
    assert.throws(() => parseConverterArgs('x y'));
  });
});
