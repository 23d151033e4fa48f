// swarm init --force-new-cluster on a manager: the cluster continues with this manager alone,
// from everything its Raft log holds. The other managers become workers (they are gone: that is
// why this is run), so a quorum of one suffices; managers are added again with the manager token.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordCipher } from '../platform/index.js';
import { MemoryStore, RaftProposer, type Change } from '../state/index.js';
import { NodeRaftDisk, bootstrapSingleMember, readMemberLog } from '../raft/index.js';
import { raftIdOf, type NodeFile } from './nodefile.js';

/**
 * Rewrites this manager's Raft log as a one-member group holding its whole state, with itself the
 * only manager in the node records. Returns the index of the new group's first state.
 */
export async function forceNewCluster(o: {
  dataRoot: string;
  cipher: RecordCipher;
  node: NodeFile;
}): Promise<number> {
  const { node } = o;
  const dir = join(o.dataRoot, 'raft');
  const { snapshot, entries, hardState } = await readMemberLog(new NodeRaftDisk(dir, { cipher: o.cipher }));
  const { store, proposer } = replayedStore();
  if (snapshot.metadata.index > 0 && snapshot.data.byteLength > 0) proposer.restore(snapshot.data);
  for (const e of entries) if (e.type === 'EntryNormal' && e.data.byteLength > 0) proposer.apply(e);
  const last = entries.at(-1) ?? { index: snapshot.metadata.index, term: snapshot.metadata.term };
  const raftId = raftIdOf(node);
  const changes = store.view((tx) =>
    tx.all('nodes').flatMap((n): Change[] => {
      if (n.ID === node.nodeId)
        return [
          {
            table: 'nodes',
            action: 'update',
            object: {
              ...n,
              Spec: { ...n.Spec, Role: 'manager' },
              ManagerStatus: { Addr: node.listenAddr, RaftID: raftId, Reachability: 'reachable' },
            },
          },
        ];
      if (!n.ManagerStatus && n.Spec.Role !== 'manager') return [];
      const { ManagerStatus: _m, ...rest } = n;
      return [{ table: 'nodes', action: 'update', object: { ...rest, Spec: { ...n.Spec, Role: 'worker' } } }];
    }),
  );
  const index = last.index + 1;
  store.apply(changes, index);
  await rm(dir, { recursive: true, force: true });
  await bootstrapSingleMember(new NodeRaftDisk(dir, { cipher: o.cipher }), {
    id: raftId,
    index,
    term: Math.max(hardState.term, last.term),
    data: proposer.snapshot(),
  });
  return index;
}

/**
 * A store rebuilt from a Raft log outside any Raft group: the proposer only applies entries and
 * snapshots to it and serializes it; nothing proposes.
 */
function replayedStore(): { store: MemoryStore; proposer: RaftProposer } {
  const store = new MemoryStore({
    propose: () => Promise.reject(new Error('a store replayed from a log takes no writes')),
  });
  return { store, proposer: new RaftProposer(store) };
}
