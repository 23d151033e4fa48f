import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyToConfState, decodeConfChange, encodeConfChange } from './confchange.js';
import { RaftError } from './types.js';

test('conf changes round-trip, including large ids and a context', () => {
  const cc = { type: 'AddLearnerNode' as const, nodeId: 2 ** 52 + 7, context: Uint8Array.of(1, 2, 3) };
  assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  assert.deepEqual(decodeConfChange(encodeConfChange({ type: 'RemoveNode', nodeId: 9 })), {
    type: 'RemoveNode',
    nodeId: 9,
  });
});

test('invalid conf changes are refused with a code', () => {
  const code = (e: unknown): boolean => e instanceof RaftError && e.code === 'ConfChangeInvalid';
  assert.throws(() => encodeConfChange({ type: 'AddNode', nodeId: 0 }), code);
  assert.throws(() => decodeConfChange(Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0, 1)), code);
  assert.throws(
    () => applyToConfState({ voters: [1], learners: [2] }, { type: 'RemoveNode', nodeId: 1 }),
    code,
  );
});

test('promotion, demotion and removal move a member between sets', () => {
  const cs = { voters: [1, 2], learners: [3] };
  assert.deepEqual(applyToConfState(cs, { type: 'AddNode', nodeId: 3 }), { voters: [1, 2, 3], learners: [] });
  assert.deepEqual(applyToConfState(cs, { type: 'AddLearnerNode', nodeId: 2 }), {
    voters: [1],
    learners: [2, 3],
  });
  assert.deepEqual(applyToConfState(cs, { type: 'RemoveNode', nodeId: 3 }), { voters: [1, 2], learners: [] });
});
