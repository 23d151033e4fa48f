import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryBool, queryInt } from './query.js';

test("query booleans read as Docker's BoolValue: only empty, 0, no, false and none are false", () => {
  for (const v of ['1', 'true', 'True', 'TRUE', 'yes', 'on', 'x']) assert.equal(queryBool(v), true, v);
  for (const v of [undefined, '', '0', 'no', 'false', 'False', ' FALSE ', 'none', 'None'])
    assert.equal(queryBool(v), false, v);
});

test('query integers: whole numbers only, a 400 naming the parameter otherwise', () => {
  assert.equal(queryInt('42', 'version'), 42);
  for (const v of [undefined, '', 'abc', '1.5', '1e3', '9'.repeat(30)])
    assert.throws(() => queryInt(v, 'version'), /invalid version parameter/);
});
