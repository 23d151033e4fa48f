// Disaster recovery (swarm init --force-new-cluster): read all a member's disk holds, then start
// over as a one-member group from that state. Every entry in the log counts, committed or not
// here, as etcd's --force-new-cluster does: an entry the old group committed may not have reached
// this member's commit index yet, and dropping it could lose an acknowledged write.
import type { Entry, HardState, NodeId, Snapshot } from '../core/index.js';
import type { RaftDisk } from './disk.js';
import { DurableStorage } from './storage.js';

export interface MemberLog {
  snapshot: Snapshot;
  /** Every entry after the snapshot. */
  entries: Entry[];
  hardState: HardState;
}

/** Reads a member's snapshot and log; closes the disk. */
export async function readMemberLog(disk: RaftDisk): Promise<MemberLog> {
  const storage = await DurableStorage.open(disk);
  try {
    const mem = storage.mem;
    const snapshot = mem.snapshot();
    const last = mem.lastIndex();
    const first = snapshot.metadata.index + 1;
    const entries = last >= first ? mem.entries(first, last + 1, Infinity) : [];
    return { snapshot, entries, hardState: storage.hardState };
  } finally {
    await storage.close();
  }
}

/**
 * Writes a new one-member group to an empty disk: `data` is the application's state as of
 * `index`, and `id` the only voter. The member elects itself when it starts.
 */
export async function bootstrapSingleMember(
  disk: RaftDisk,
  o: { id: NodeId; index: number; term: number; data: Uint8Array },
): Promise<void> {
  const storage = await DurableStorage.open(disk);
  try {
    if (!storage.isEmpty) throw new Error('bootstrapSingleMember needs an empty disk');
    await storage.save({
      snapshot: {
        metadata: { index: o.index, term: o.term, confState: { voters: [o.id], learners: [] } },
        data: o.data,
      },
      hardState: { term: o.term, vote: 0, commit: o.index },
      entries: [],
    });
  } finally {
    await storage.close();
  }
}
