// One manager's replica of the cluster state: the store, the RaftProposer that writes it through
// Raft and applies what commits, the RaftNode, and the Manager over the store. The store, the
// proposer and the node each need the next (a write goes store → proposer → node, a committed
// entry comes back node → proposer → store), so they are built here together, in that order,
// once: the daemon and the simulator both build their managers through this class, so the
// simulator runs the daemon's wiring.
import type { Clock } from '../platform/index.js';
import { MemoryStore, RaftProposer } from '../state/index.js';
import {
  RaftNode,
  type Entry,
  type NodeId,
  type RaftNodeOptions,
  type RaftTransport,
  type StateMachine,
} from '../raft/index.js';
import { Manager, type ManagerOptions } from './index.js';

export interface ManagerReplicaOptions<T extends RaftTransport> {
  /** This manager's member ID in the Raft group. */
  id: NodeId;
  clock: Clock;
  /** The Raft transport; built over the store, where the daemon finds its peers' addresses. */
  transport: (store: MemoryStore) => T;
  /**
   * The rest of the RaftNode: its disk, randomness, timing, first voters, snapshot settings and
   * callbacks (leader change, configuration change, fatal error, disk fault).
   */
  raft: Omit<RaftNodeOptions, 'id' | 'clock' | 'transport' | 'stateMachine'>;
  /**
   * The Manager's settings. `membership`: whether its leader loops change the Raft group's
   * members (the daemon's do; the simulator's group is fixed).
   */
  manager: Omit<ManagerOptions, 'store' | 'clock' | 'raft'> & { membership: boolean };
  /**
   * Run the Manager's leader loops while this member is a ready leader of a cluster that exists,
   * and stop them when it is not (the daemon; the simulator in runs with a fleet). Otherwise the
   * Manager's loops never run.
   */
  leaderLoops: boolean;
  /** Each committed entry, before the store applies it (the simulator's checkers watch them). */
  onApply?: (entry: Entry) => void;
  /** The store was replaced by a snapshot taken at `index` (it emits no change events for that). */
  onSnapshotInstalled?: (index: number) => void;
}

export class ManagerReplica<T extends RaftTransport = RaftTransport> {
  readonly store: MemoryStore;
  readonly transport: T;
  readonly raft: RaftNode;
  /** Built, not started: the caller starts it (and its leader loops) when this manager serves. */
  readonly manager: Manager;

  constructor(o: ManagerReplicaOptions<T>) {
    const store = new MemoryStore({ propose: (changes): Promise<number> => proposer.propose(changes) });
    const proposer = new RaftProposer(store, { raft: (): RaftNode => raft });
    const stateMachine: StateMachine = {
      apply: (e) => {
        o.onApply?.(e);
        proposer.apply(e);
      },
      snapshot: () => proposer.snapshot(),
      snapshotAsync: () => proposer.snapshotAsync(),
      restore: (data, index) => {
        proposer.restore(data);
        o.onSnapshotInstalled?.(index);
      },
    };
    const transport = o.transport(store);
    const onLeaderChange = o.raft.onLeaderChange;
    const raft = new RaftNode({
      ...o.raft,
      id: o.id,
      clock: o.clock,
      transport,
      stateMachine,
      onLeaderChange: (isLeader, lead, term) => {
        if (o.leaderLoops) {
          if (isLeader) this.leadIfReady();
          else void this.manager.stepDown();
        }
        onLeaderChange?.(isLeader, lead, term);
      },
    });
    const { membership, ...managerOptions } = o.manager;
    this.store = store;
    this.transport = transport;
    this.raft = raft;
    this.manager = new Manager({
      ...managerOptions,
      store,
      clock: o.clock,
      ...(membership ? { raft } : {}),
    });
  }

  /**
   * Starts the leader loops of this term if this member is a ready leader and the cluster object
   * exists: a leader elected before `swarm init` wrote it starts them once it does.
   */
  leadIfReady(): void {
    if (this.raft.isLeader && !this.manager.leader && this.store.view((tx) => tx.cluster()) !== undefined)
      this.manager.lead();
  }
}
