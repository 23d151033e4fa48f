import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../platform/index.js';
import { MemoryStore } from '../state/index.js';
import type { NodeId, ProgressStatus, Status } from '../raft/index.js';
import type { Node } from '../api/index.js';
import { Membership, QUORUM_LOSS_ON_REMOVAL, keepsQuorumWithout, type RaftGroup } from './membership.js';

test('keepsQuorumWithout counts the active voters that remain against their own majority', () => {
  const active = (ids: NodeId[]) => (id: NodeId) => ids.includes(id);
  // 3 voters, all active: any one may go (2 of 2 remain).
  assert.equal(keepsQuorumWithout([1, 2, 3], 3, active([1, 2, 3])), true);
  // 3 voters, 3 dead: removing an active one leaves 1 of 2.
  assert.equal(keepsQuorumWithout([1, 2, 3], 2, active([1, 2])), false);
  // ...but removing the dead one leaves 2 of 2.
  assert.equal(keepsQuorumWithout([1, 2, 3], 3, active([1, 2])), true);
  // 5 voters, 2 dead: an active one may not go (2 of 4), a dead one may (3 of 4).
  assert.equal(keepsQuorumWithout([1, 2, 3, 4, 5], 3, active([1, 2, 3])), false);
  assert.equal(keepsQuorumWithout([1, 2, 3, 4, 5], 5, active([1, 2, 3])), true);
  // The last voter never goes.
  assert.equal(keepsQuorumWithout([1], 1, active([1])), false);
});

function node(id: string, raftId: number): Node {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'manager', Availability: 'active' },
    Description: {
      Hostname: id,
      Platform: { Architecture: '', OS: '' },
      Resources: { NanoCPUs: 0, MemoryBytes: 0 },
      Engine: { EngineVersion: '' },
    },
    Status: { State: 'ready', Addr: '' },
    ManagerStatus: { Addr: `${id}:2377`, RaftID: raftId, Reachability: 'reachable' },
  };
}

test('checkRemoval refuses, with Docker message, a demotion that would leave no active quorum', () => {
  const clock = new ManualClock();
  let i = 0;
  const store = new MemoryStore({ propose: () => Promise.resolve(++i) });
  const pr = (recentActive: boolean): ProgressStatus => ({
    match: 10,
    next: 11,
    state: 'StateReplicate',
    isLearner: false,
    recentActive,
    paused: false,
    inflight: 0,
  });
  // Member 3 has not been heard from.
  const status: Status = {
    id: 1,
    term: 2,
    vote: 1,
    commit: 10,
    lead: 1,
    state: 'StateLeader',
    applied: 10,
    lastIndex: 10,
    firstIndex: 1,
    leadTransferee: 0,
    config: { voters: [1, 2, 3], learners: [] },
    progress: new Map([
      [1, pr(true)],
      [2, pr(true)],
      [3, pr(false)],
    ]),
  };
  const raft: RaftGroup = {
    id: 1,
    leader: 1,
    confState: status.config,
    status: () => status,
    addLearner: () => Promise.resolve(0),
    promote: () => Promise.resolve(0),
    removeMember: () => Promise.resolve(0),
    transferLeadership: () => undefined,
  };
  const m = new Membership(store, raft, clock, () => undefined);
  // Past the warm-up during which a new leader counts every member as active.
  clock.advance(10_000);
  assert.throws(
    () => m.checkRemoval(node('a', 2)),
    (e: Error) => e.message === QUORUM_LOSS_ON_REMOVAL,
  );
  assert.doesNotThrow(() => m.checkRemoval(node('c', 3)));
});
