// The managers' Raft membership, kept by the leader (Swarm's role manager, plus Raft's side of it).
// A node's Spec.Role says what it should be; its ManagerStatus.RaftID says it is in the group.
// One reconcile pass, run on node changes and on a short timer:
//   - a manager node with a Raft ID the group lacks is added as a learner (a join that was cut off);
//   - a learner whose log has caught up becomes a voter;
//   - a member whose node was demoted or removed leaves the group; if that is the leader itself, it
//     hands leadership to the most up-to-date voter first, and the next leader finishes the job;
//   - each member's Reachability follows whether the leader hears from it.
// Joins and demotions are checked here too, so a demotion that would lose quorum is refused up front.
import { failedPrecondition, type Node } from '../api/index.js';
import type { Cancel, Clock } from '../platform/index.js';
import type { ConfState, NodeId, Status } from '../raft/index.js';
import type { MemoryStore } from '../state/index.js';

/** What the membership needs of the local Raft node. */
export interface RaftGroup {
  readonly id: NodeId;
  readonly leader: NodeId;
  readonly confState: ConfState;
  status(): Status | undefined;
  addLearner(id: NodeId): Promise<number>;
  promote(id: NodeId): Promise<number>;
  removeMember(id: NodeId): Promise<number>;
  transferLeadership(to: NodeId): void;
}

export interface RaftMemberInfo {
  raftId: NodeId;
  nodeId: string;
  addr: string;
}

/** Docker's messages. */
export const QUORUM_LOSS_ON_REMOVAL =
  "can't remove member from the raft: this would result in a loss of quorum";
const PASS_MS = 250;
/** A learner within this many entries of the commit index is caught up and may vote. */
const PROMOTE_LAG = 256;
/**
 * A member is active if the leader heard from it this recently. Raft's own flag is cleared at
 * every quorum check and set again by the next reply, so it flickers; this smooths it.
 */
const ACTIVE_MS = 2_000;

/** The Raft members the store knows, by Raft ID. */
export function raftMembers(store: MemoryStore): RaftMemberInfo[] {
  return store.view((tx) =>
    tx
      .all('nodes')
      .flatMap((n) =>
        n.ManagerStatus?.RaftID
          ? [{ raftId: n.ManagerStatus.RaftID, nodeId: n.ID, addr: n.ManagerStatus.Addr }]
          : [],
      ),
  );
}

/** Whether the voters keep a quorum of active members after `leaving` goes. */
export function keepsQuorumWithout(
  voters: readonly NodeId[],
  leaving: NodeId,
  active: (id: NodeId) => boolean,
): boolean {
  const rest = voters.filter((v) => v !== leaving);
  if (rest.length === 0) return false;
  return rest.filter(active).length >= Math.floor(rest.length / 2) + 1;
}

export class Membership {
  #timer: Cancel | undefined;
  #unsubscribe: (() => void) | undefined;
  #running = false;
  #again = false;
  #since = 0;
  /** When the leader last saw each member active. */
  #seen = new Map<NodeId, number>();
  /** Raft IDs with a conf change in flight, so a pass does not propose it twice. */
  #busy = new Set<NodeId>();

  constructor(
    private readonly store: MemoryStore,
    private readonly raft: RaftGroup,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    this.#since = this.clock.now();
    this.#unsubscribe = this.store.subscribe((e) => {
      if (e.kind === 'change' && e.change.table === 'nodes') this.kick();
    });
    this.#tick();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#timer?.();
    this.#timer = undefined;
  }

  #tick(): void {
    this.kick();
    this.#timer = this.clock.setTimer(PASS_MS, () => this.#tick());
  }

  kick(): void {
    if (!this.#unsubscribe) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void this.#pass()
      .catch((e: unknown) => this.log(`raft membership: ${(e as Error).message}`))
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /**
   * Adds a manager node to the group as a learner, or returns its place if it is already in it.
   * Called for the node itself (its certificate says so) once it holds a manager certificate.
   */
  async join(nodeId: string, addr: string): Promise<{ raftId: NodeId; members: RaftMemberInfo[] }> {
    const node = this.store.view((tx) => tx.get('nodes', nodeId));
    if (!node) throw failedPrecondition(`node ${nodeId} is not part of this swarm`);
    if (node.Spec.Role !== 'manager') throw failedPrecondition(`node ${nodeId} is not a manager`);
    const raftId = node.ManagerStatus?.RaftID ?? this.#newRaftId();
    // Busy from here on, so a pass does not add the learner too when the record lands.
    this.#busy.add(raftId);
    try {
      if (node.ManagerStatus?.RaftID !== raftId || node.ManagerStatus.Addr !== addr) {
        await this.store.update((tx) => {
          const cur = tx.get('nodes', nodeId);
          if (!cur) throw failedPrecondition(`node ${nodeId} is not part of this swarm`);
          tx.update('nodes', {
            ...cur,
            ManagerStatus: { Addr: addr, RaftID: raftId, Reachability: 'unknown' },
          });
        });
      }
      const cs = this.raft.confState;
      if (!cs.voters.includes(raftId) && !cs.learners.includes(raftId)) {
        await this.raft.addLearner(raftId);
        this.log(`raft: node ${nodeId} joined the managers as learner ${raftId}`);
      }
    } finally {
      this.#busy.delete(raftId);
    }
    return { raftId, members: raftMembers(this.store) };
  }

  /** Throws Docker's error when the node's leaving the group would cost the quorum. */
  checkRemoval(node: Node): void {
    const raftId = node.ManagerStatus?.RaftID;
    if (!raftId) return;
    const st = this.raft.status();
    if (!st || !st.config.voters.includes(raftId)) return;
    this.#observe(st);
    if (!keepsQuorumWithout(st.config.voters, raftId, (id) => this.#active(st, id)))
      throw failedPrecondition(QUORUM_LOSS_ON_REMOVAL);
  }

  #observe(st: Status): void {
    const now = this.clock.now();
    for (const [id, pr] of st.progress ?? []) if (pr.recentActive) this.#seen.set(id, now);
  }

  #active(st: Status, id: NodeId): boolean {
    if (id === st.id) return true;
    const now = this.clock.now();
    // Until a new leader has watched for a while, a member counts as active.
    if (now - this.#since < ACTIVE_MS) return true;
    return now - (this.#seen.get(id) ?? -Infinity) <= ACTIVE_MS;
  }

  #newRaftId(): NodeId {
    const used = new Set(raftMembers(this.store).map((m) => m.raftId));
    for (;;) {
      const id = 1 + Math.floor(Math.random() * (2 ** 31 - 2));
      if (!used.has(id)) return id;
    }
  }

  async #pass(): Promise<void> {
    const st = this.raft.status();
    if (!st || st.lead !== this.raft.id) return;
    this.#observe(st);
    const nodes = this.store.view((tx) => tx.all('nodes'));
    const byRaft = new Map<NodeId, Node>();
    for (const n of nodes) if (n.ManagerStatus?.RaftID) byRaft.set(n.ManagerStatus.RaftID, n);
    const members = [...st.config.voters, ...st.config.learners];

    // Members whose node no longer wants to be a manager (demoted, or removed) leave the group.
    for (const id of members) {
      const n = byRaft.get(id);
      if (n && n.Spec.Role === 'manager') continue;
      if (this.#busy.has(id)) continue;
      if (id === this.raft.id) {
        this.#handOver(st);
        continue;
      }
      await this.#change(id, () => this.raft.removeMember(id), `removed raft member ${id}`);
    }
    // A demoted node leaves ManagerStatus once it is out of the group.
    const done = nodes.filter(
      (n) => n.ManagerStatus && n.Spec.Role !== 'manager' && !members.includes(n.ManagerStatus.RaftID ?? 0),
    );
    if (done.length > 0)
      await this.store.update((tx) => {
        for (const d of done) {
          const cur = tx.get('nodes', d.ID);
          if (!cur?.ManagerStatus) continue;
          const { ManagerStatus: _m, ...rest } = cur;
          tx.update('nodes', rest);
        }
      });
    // Managers that hold a Raft ID but are not in the group (a join cut short) are added.
    for (const [id, n] of byRaft) {
      if (n.Spec.Role !== 'manager' || members.includes(id) || this.#busy.has(id)) continue;
      await this.#change(id, () => this.raft.addLearner(id), `added raft learner ${id} (node ${n.ID})`);
    }
    // Learners that have caught up become voters.
    for (const id of st.config.learners) {
      const pr = st.progress?.get(id);
      if (!pr || this.#busy.has(id) || byRaft.get(id)?.Spec.Role !== 'manager') continue;
      // Caught up, replicating, and heard from: a learner that never answered must not vote, or
      // the group would count on a member that is not there.
      if (
        pr.state === 'StateReplicate' &&
        pr.recentActive &&
        pr.match > 0 &&
        pr.match + PROMOTE_LAG >= st.commit
      )
        await this.#change(id, () => this.raft.promote(id), `raft learner ${id} caught up and now votes`);
    }
    await this.#updateReachability(st, byRaft);
  }

  async #change(id: NodeId, fn: () => Promise<number>, done: string): Promise<void> {
    this.#busy.add(id);
    try {
      await fn();
      this.log(`raft: ${done}`);
    } finally {
      this.#busy.delete(id);
    }
  }

  /** The leader is leaving the group: the most up-to-date active voter takes over first. */
  #handOver(st: Status): void {
    if (st.leadTransferee) return;
    let best: { id: NodeId; match: number } | undefined;
    for (const v of st.config.voters) {
      const pr = st.progress?.get(v);
      if (v === st.id || !pr || !this.#active(st, v)) continue;
      if (!best || pr.match > best.match) best = { id: v, match: pr.match };
    }
    if (!best) {
      this.log('raft: this leader is being demoted but no other voter is active to take over');
      return;
    }
    this.log(`raft: handing leadership to ${best.id} before leaving the group`);
    this.raft.transferLeadership(best.id);
  }

  async #updateReachability(st: Status, byRaft: Map<NodeId, Node>): Promise<void> {
    if (this.clock.now() - this.#since < ACTIVE_MS) return;
    const changes: Node[] = [];
    for (const [id, n] of byRaft) {
      if (!n.ManagerStatus) continue;
      // A learner is still catching up: it does not count for the quorum yet, so it is not shown
      // as a reachable manager until it votes.
      if (!st.config.voters.includes(id)) continue;
      const want = this.#active(st, id) ? 'reachable' : 'unreachable';
      if (n.ManagerStatus.Reachability !== want)
        changes.push({ ...n, ManagerStatus: { ...n.ManagerStatus, Reachability: want } });
    }
    if (changes.length === 0) return;
    await this.store.update((tx) => {
      for (const c of changes) {
        const cur = tx.get('nodes', c.ID);
        if (cur?.ManagerStatus) tx.update('nodes', { ...cur, ManagerStatus: c.ManagerStatus! });
      }
    });
  }
}
