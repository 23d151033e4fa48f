import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable } from './linearizability.js';
import type { HistoryOp, RegisterOp } from './linearizability.js';

let nextId = 0;
function op(
  client: number,
  o: RegisterOp,
  call: number,
  ret: number | '?',
  output?: string | null | boolean,
  key = 'k',
): HistoryOp {
  const h: HistoryOp = {
    id: nextId++,
    client,
    key,
    op: o,
    call,
    ret: ret === '?' ? Infinity : ret,
    unknown: ret === '?',
  };
  if (output !== undefined) h.output = output;
  return h;
}
const w = (v: string): RegisterOp => ({ kind: 'write', value: v });
const r: RegisterOp = { kind: 'read' };
const cas = (e: string | null, v: string): RegisterOp => ({ kind: 'cas', expect: e, value: v });

test('sequential and overlapping histories that a register allows are linearizable', () => {
  assert.deepEqual(checkLinearizable([op(1, w('a'), 0, 10), op(2, r, 20, 30, 'a')]), { ok: true });
  // A read concurrent with a write may see either value.
  assert.deepEqual(checkLinearizable([op(1, w('a'), 0, 10), op(2, r, 5, 15, null)]), { ok: true });
  assert.deepEqual(checkLinearizable([op(1, w('a'), 0, 10), op(2, r, 5, 15, 'a')]), { ok: true });
  // Reads of an absent key before any write.
  assert.deepEqual(checkLinearizable([op(1, r, 0, 1, null)]), { ok: true });
  // Two concurrent writes, then reads agreeing on the order b-then-a.
  assert.deepEqual(
    checkLinearizable([
      op(1, w('a'), 0, 10),
      op(2, w('b'), 0, 10),
      op(3, r, 11, 12, 'a'),
      op(3, r, 13, 14, 'a'),
    ]),
    { ok: true },
  );
  assert.deepEqual(
    checkLinearizable([
      op(1, w('a'), 0, 5),
      op(2, cas('a', 'b'), 6, 8, true),
      op(1, cas('a', 'c'), 9, 10, false),
      op(3, r, 11, 12, 'b'),
    ]),
    { ok: true },
  );
});

test('a stale read after a completed write is not linearizable', () => {
  const res = checkLinearizable([op(1, w('a'), 0, 10), op(2, r, 20, 30, null)]);
  assert.equal(res.ok, false);
});

test('values may not go back in time between two clients', () => {
  const res = checkLinearizable([
    op(1, w('a'), 0, 1),
    op(1, w('b'), 2, 3),
    op(2, r, 4, 5, 'b'),
    op(3, r, 6, 7, 'a'),
  ]);
  assert.equal(res.ok, false);
});

test('a write with an unknown outcome may take effect late or never, but not be undone', () => {
  const lost = [op(1, w('a'), 0, 1), op(2, w('b'), 2, '?')];
  assert.deepEqual(checkLinearizable([...lost, op(3, r, 10, 11, 'a')]), { ok: true });
  assert.deepEqual(checkLinearizable([...lost, op(3, r, 10, 11, 'b')]), { ok: true });
  assert.deepEqual(checkLinearizable([...lost, op(3, r, 10, 11, 'b'), op(3, r, 12, 13, 'b')]), { ok: true });
  assert.equal(checkLinearizable([...lost, op(3, r, 10, 11, 'b'), op(3, r, 12, 13, 'a')]).ok, false);
  // It cannot take effect before it was called.
  assert.equal(checkLinearizable([op(1, r, 0, 1, 'z'), op(2, w('z'), 5, '?')]).ok, false);
});

test('compare-and-swap results must match the register', () => {
  assert.equal(checkLinearizable([op(1, w('a'), 0, 1), op(2, cas('a', 'b'), 2, 3, false)]).ok, false);
  assert.equal(checkLinearizable([op(1, w('a'), 0, 1), op(2, cas('x', 'b'), 2, 3, true)]).ok, false);
  // Two swaps from the same value cannot both succeed.
  assert.equal(
    checkLinearizable([
      op(1, w('a'), 0, 1),
      op(2, cas('a', 'b'), 2, 5, true),
      op(3, cas('a', 'c'), 2, 5, true),
    ]).ok,
    false,
  );
});

test('keys are checked independently, and a long concurrent history finishes within the budget', () => {
  const h: HistoryOp[] = [];
  // 5 clients, 60 rounds of overlapping writes and reads that all see the round's last write.
  for (let round = 0; round < 60; round++) {
    const t = round * 10;
    for (let c = 0; c < 4; c++) h.push(op(c, w(`v${round}-${c}`), t, t + 5, undefined, 'hot'));
    h.push(op(9, r, t + 6, t + 7, `v${round}-3`, 'hot'));
    h.push(op(9, w(`x${round}`), t, t + 1, undefined, 'cold'));
  }
  const start = Date.now();
  assert.deepEqual(checkLinearizable(h), { ok: true });
  assert.ok(Date.now() - start < 5000);
});
