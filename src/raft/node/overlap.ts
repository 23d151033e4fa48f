// What of a Ready may go ahead while its own write is under way: the driver's two overlaps of
// persisting with sending and applying, as pure rules over the Ready and what is already durable.
import type { Message, Ready } from '../core/index.js';
import type { DurableStorage } from './storage.js';

/**
 * A leader's appends and heartbeats may leave while its own write is under way (Raft thesis
 * §10.2.1, as etcd does): the leader counts itself towards a commit as soon as it appends, but
 * any commit it reaches only shows (in messages, applies, replies) in a later Ready, which comes
 * after this one is durable. Not when this Ready changes the term or vote (a message of a term
 * the leader has not yet made durable could outlive a crash that forgets it), nor a commit past
 * the durable log (a sole voter commits its entries at once; a learner must not apply them yet).
 */
export function sendableBeforePersist(rd: Ready, storage: DurableStorage): Message[] {
  if (rd.snapshot !== undefined) return [];
  const durable = storage.hardState;
  const hs = rd.hardState;
  if (hs !== undefined && (hs.term !== durable.term || hs.vote !== durable.vote)) return [];
  const last = storage.mem.lastIndex();
  return rd.messages.filter(
    (m) => (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') && m.term === durable.term && m.commit <= last,
  );
}

/**
 * Committed entries already durable here (below this Ready's own entries, which may replace
 * later ones) are applied while the write is under way, as etcd does: they are on a quorum's
 * disks, and losing the commit index in this write only means learning it again.
 */
export function appliableBeforePersist(rd: Ready, storage: DurableStorage): boolean {
  const last = rd.committedEntries[rd.committedEntries.length - 1];
  if (last === undefined || rd.snapshot !== undefined) return false;
  const first = rd.entries[0];
  return last.index <= storage.mem.lastIndex() && (first === undefined || last.index < first.index);
}
