import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights, Progress, ProgressTracker } from './progress.js';

test('inflights fill up by count and free up to an acknowledged index', () => {
  const inf = new Inflights(3);
  inf.add(5, 10);
  inf.add(7, 10);
  assert.equal(inf.full(), false);
  inf.add(9, 10);
  assert.equal(inf.full(), true);
  assert.throws(() => inf.add(10, 1), /full/);
  inf.freeLE(7);
  assert.equal(inf.count(), 1);
  assert.equal(inf.bytes(), 10);
  inf.freeLE(100);
  assert.equal(inf.count(), 0);
});

test('inflights fill up by bytes when a byte budget is set', () => {
  const inf = new Inflights(100, 25);
  inf.add(1, 10);
  assert.equal(inf.full(), false);
  inf.add(2, 20);
  assert.equal(inf.full(), true);
  inf.freeFirstOne();
  assert.equal(inf.full(), false);
});

test('inflights refuse indexes that do not increase', () => {
  const inf = new Inflights(4);
  inf.add(5, 1);
  assert.throws(() => inf.add(5, 1), /not above/);
});

function progress(next: number): Progress {
  return new Progress({ next, maxInflight: 2, maxInflightBytes: Infinity, isLearner: false });
}

test('a probing follower gets one append at a time', () => {
  const pr = progress(5);
  assert.equal(pr.isPaused(), false);
  pr.sentEntries(3, 30);
  assert.equal(pr.isPaused(), true);
  assert.equal(pr.next, 5, 'probing does not advance next optimistically');
});

test('a replicating follower advances next optimistically until the window is full', () => {
  const pr = progress(5);
  pr.match = 4;
  pr.becomeReplicate();
  pr.sentEntries(2, 20);
  assert.equal(pr.next, 7);
  pr.sentEntries(1, 10);
  assert.equal(pr.next, 8);
  assert.equal(pr.isPaused(), true);
  assert.equal(pr.maybeUpdate(6), true);
  pr.inflights.freeLE(6);
  assert.equal(pr.isPaused(), false);
});

test('a rejection in replicate state goes back to match+1; a stale one is ignored', () => {
  const pr = progress(5);
  pr.match = 4;
  pr.becomeReplicate();
  pr.sentEntries(5, 50);
  assert.equal(pr.maybeDecrTo(3, 3), false, 'rejection below match is stale');
  assert.equal(pr.maybeDecrTo(8, 8), true);
  assert.equal(pr.next, 5);
});

test('a probe rejection jumps to the hint but never below match+1', () => {
  const pr = progress(10);
  pr.match = 2;
  assert.equal(pr.maybeDecrTo(8, 5), false, 'only the probe for next-1 counts');
  assert.equal(pr.maybeDecrTo(9, 5), true);
  assert.equal(pr.next, 6);
  assert.equal(pr.maybeDecrTo(5, 0), true);
  assert.equal(pr.next, 3);
});

test('after a snapshot, probing starts past the snapshot', () => {
  const pr = progress(3);
  pr.becomeSnapshot({ index: 20, term: 2, total: 0, sent: 0, acked: 0, ackedAtBeat: 0, doneSent: false });
  assert.equal(pr.isPaused(), true);
  pr.becomeProbe();
  assert.equal(pr.next, 21);
  assert.equal(pr.snapshotTransfer, undefined);
});

test('the tracker commits the index a majority of voters has, ignoring learners', () => {
  const t = new ProgressTracker(4, Infinity);
  const add = (id: number, match: number, learner = false): void => {
    const pr = new Progress({
      next: match + 1,
      maxInflight: 4,
      maxInflightBytes: Infinity,
      isLearner: learner,
    });
    pr.match = match;
    t.progress.set(id, pr);
    (learner ? t.learners : t.voters).add(id);
  };
  add(1, 10);
  add(2, 8);
  add(3, 3);
  add(4, 100, true);
  assert.equal(t.committed(), 8);
  t.recordVote(1, true);
  assert.equal(t.tallyVotes().result, 'VotePending');
  t.recordVote(4, true);
  assert.equal(t.tallyVotes().result, 'VotePending', 'a learner vote does not count');
  t.recordVote(2, false);
  t.recordVote(3, false);
  assert.equal(t.tallyVotes().result, 'VoteLost');
});
