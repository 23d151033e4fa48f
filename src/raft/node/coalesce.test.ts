import { test } from 'node:test';
import assert from 'node:assert/strict';
import { message } from '../core/index.js';
import type { Entry } from '../core/index.js';
import { coalesce } from './coalesce.js';

const e = (index: number, term = 2): Entry => ({ index, term, type: 'EntryNormal', data: new Uint8Array(3) });
const app = (to: number, index: number, entries: Entry[], commit: number, logTerm = 2) =>
  message({ type: 'MsgApp', from: 1, to, term: 2, index, logTerm, entries, commit });

test('coalesce merges appends that continue each other and keeps the newest commit', () => {
  const out = coalesce([app(2, 5, [e(6)], 4), app(3, 5, [e(6)], 4), app(2, 6, [e(7)], 5), app(2, 7, [], 7)]);
  assert.equal(out.length, 2);
  assert.deepEqual(
    out[0]!.entries.map((x) => x.index),
    [6, 7],
  );
  assert.equal(out[0]!.index, 5);
  assert.equal(out[0]!.commit, 7);
  assert.equal(out[1]!.to, 3);
});

test('coalesce leaves gaps, term changes, other types and rejections alone', () => {
  const hb = message({ type: 'MsgHeartbeat', from: 1, to: 2, term: 2 });
  assert.equal(coalesce([app(2, 5, [e(6)], 4), app(2, 9, [e(10)], 4)]).length, 2); // not contiguous
  assert.equal(coalesce([app(2, 5, [e(6)], 4), app(2, 6, [e(7)], 4, 1)]).length, 2); // logTerm differs
  assert.equal(coalesce([app(2, 5, [e(6)], 4), hb, app(2, 6, [e(7)], 4)]).length, 3); // order kept
  const resp = (index: number, reject = false) =>
    message({ type: 'MsgAppResp', from: 2, to: 1, term: 2, index, reject });
  assert.deepEqual(
    coalesce([resp(5), resp(7), resp(7)]).map((m) => m.index),
    [7],
  );
  assert.equal(coalesce([resp(5), resp(4, true), resp(7)]).length, 3);
});
