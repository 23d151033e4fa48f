import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from './log.js';
import { MemoryStorage } from './storage.js';
import { RaftError, SILENT_LOGGER } from './types.js';
import type { Entry } from './types.js';

function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: 'EntryNormal', data: Uint8Array.from(data, (c) => c.charCodeAt(0)) };
}

function storageWith(...terms: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(terms.map((t, i) => ent(i + 1, t)));
  return s;
}

test('memory storage compacts, keeps the term of the last compacted entry, and reports errors', () => {
  const s = storageWith(1, 1, 2, 2, 3);
  s.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array(0));
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.lastIndex(), 5);
  assert.equal(s.term(3), 2);
  assert.throws(
    () => s.term(2),
    (e: unknown) => e instanceof RaftError && e.code === 'Compacted',
  );
  assert.throws(
    () => s.entries(3, 5, Infinity),
    (e: unknown) => e instanceof RaftError && e.code === 'Compacted',
  );
  assert.deepEqual(
    s.entries(4, 6, Infinity).map((e) => e.index),
    [4, 5],
  );
});

test('memory storage append overwrites a conflicting tail', () => {
  const s = storageWith(1, 1, 1);
  s.append([ent(2, 2), ent(3, 2), ent(4, 2)]);
  assert.deepEqual(
    s.entries(1, 5, Infinity).map((e) => e.term),
    [1, 2, 2, 2],
  );
  assert.throws(() => s.append([ent(9, 2)]), /missing log entry/);
});

test('entries are size-limited but always include the first', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1, 'aaaa'), ent(2, 1, 'bbbb'), ent(3, 1, 'cccc')]);
  assert.equal(s.entries(1, 4, 0).length, 1);
  assert.equal(s.entries(1, 4, 40).length, 2); // 20 bytes each
  assert.equal(s.entries(1, 4, Infinity).length, 3);
});

test('the raft log appends on a match, truncates on a conflict, and refuses a mismatch', () => {
  const log = new RaftLog(storageWith(1, 1, 2), SILENT_LOGGER);
  assert.equal(log.maybeAppend(3, 1, 0, [ent(4, 3)]), undefined, 'prev term mismatch');
  assert.equal(log.maybeAppend(2, 1, 2, [ent(3, 3), ent(4, 3)]), 4);
  assert.equal(log.term(3), 3);
  assert.equal(log.committed, 2);
  assert.deepEqual(
    log.unstableEntries().map((e) => e.index),
    [3, 4],
  );
  // An append that is all duplicates changes nothing.
  assert.equal(log.maybeAppend(2, 1, 4, [ent(3, 3)]), 3);
  assert.equal(log.lastIndex(), 4);
  assert.equal(log.committed, 3, 'commit is capped at the last entry the message vouched for');
});

test('the raft log refuses to rewrite committed entries', () => {
  const log = new RaftLog(storageWith(1, 1, 1), SILENT_LOGGER);
  log.commitTo(3);
  assert.throws(() => log.maybeAppend(1, 1, 3, [ent(2, 2)]), /conflicts with committed/);
  assert.throws(() => log.commitTo(9), /out of range/);
});

test('only an entry of the current term commits by counting replicas', () => {
  const log = new RaftLog(storageWith(1, 1, 2), SILENT_LOGGER);
  assert.equal(log.maybeCommit(3, 3), false);
  assert.equal(log.maybeCommit(3, 2), true);
  assert.equal(log.committed, 3);
});

test('findConflictByTerm skips back to the last entry of at most the given term', () => {
  const log = new RaftLog(storageWith(1, 1, 2, 2, 5, 5), SILENT_LOGGER);
  assert.deepEqual(log.findConflictByTerm(6, 3), [4, 2]);
  assert.deepEqual(log.findConflictByTerm(6, 5), [6, 5]);
  assert.deepEqual(log.findConflictByTerm(6, 0), [0, 0]);
});

test('the up-to-date check compares last term, then length', () => {
  const log = new RaftLog(storageWith(1, 2, 2), SILENT_LOGGER);
  assert.equal(log.isUpToDate(3, 2), true);
  assert.equal(log.isUpToDate(2, 2), false);
  assert.equal(log.isUpToDate(1, 3), true);
  assert.equal(log.isUpToDate(9, 1), false);
});

test('stableTo ignores an acknowledgement for entries replaced since', () => {
  const log = new RaftLog(storageWith(1), SILENT_LOGGER);
  log.append([ent(2, 1), ent(3, 1)]);
  log.append([ent(3, 2)]);
  log.stableTo(3, 1);
  assert.equal(log.unstableEntries().length, 2);
  log.stableTo(3, 2);
  assert.equal(log.unstableEntries().length, 0);
});

test('committed entries wait behind a pending snapshot', () => {
  const log = new RaftLog(storageWith(1, 1), SILENT_LOGGER);
  log.restore({
    metadata: { index: 10, term: 3, confState: { voters: [1], learners: [] } },
    data: new Uint8Array(0),
  });
  assert.equal(log.committed, 10);
  assert.equal(log.hasNextCommittedEnts(), false);
  assert.equal(log.firstIndex(), 11);
  assert.equal(log.term(10), 3);
  assert.throws(() => log.term(5), /compacted/);
});
