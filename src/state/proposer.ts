// The replicated Proposer: a transaction's changes become one Raft entry, and every manager (the
// leader included) installs committed entries into its store in log order through apply(). The
// leader's own update() then finds the entry already applied and does not apply it twice.
// Store snapshots ride on Raft snapshots, so a lagging or new manager starts from one.
import { isShoalError, ShoalError } from '../api/index.js';
import type { Entry, RaftNode, StateMachine } from '../raft/index.js';
import type { Change, MemoryStore, Proposer } from './store/memory.js';

const ENTRY_VERSION = 1;

interface EntryBody {
  v: number;
  changes: Change[];
}

/**
 * A Raft failure as a write the cluster could not take: the same code and details (NotLeader and
 * the rest are 503, DiskFault 500, api/errors.ts), with a message that says what failed, except a
 * disk fault, which keeps the disk's own message (the cluster may be fine; this manager is not).
 */
function writeFailed(e: ShoalError): ShoalError {
  const message = e.code === 'DiskFault' ? e.message : `cannot write to the cluster store: ${e.message}`;
  return new ShoalError(e.code, message, {
    ...(e.leader !== undefined ? { leader: e.leader } : {}),
    ...(e.maybeCommitted !== undefined ? { maybeCommitted: e.maybeCommitted } : {}),
    cause: e,
  });
}

export function encodeChanges(changes: readonly Change[]): Uint8Array {
  const body: EntryBody = { v: ENTRY_VERSION, changes: [...changes] };
  return new TextEncoder().encode(JSON.stringify(body));
}

export function decodeChanges(data: Uint8Array): Change[] {
  const body = JSON.parse(new TextDecoder().decode(data)) as EntryBody;
  if (body.v !== ENTRY_VERSION) throw new Error(`store entry version ${body.v} is not supported`);
  return body.changes;
}

/** Rows serialized between yields by snapshotAsync (15-30 ms of work here at 900-byte tasks). */
const SNAPSHOT_SLICE = 2000;

export class RaftProposer implements Proposer, StateMachine {
  readonly #store: MemoryStore;
  readonly #raft: () => RaftNode | undefined;

  /**
   * raft: the node this proposer writes through, which takes this proposer as its stateMachine
   * (each needs the other, so the node is reached through a function; manager/replica.ts builds
   * the pair). Without one, the proposer only applies, restores and serializes the store.
   */
  constructor(store: MemoryStore, o: { raft?: () => RaftNode | undefined } = {}) {
    this.#store = store;
    this.#raft = o.raft ?? (() => undefined);
  }

  async propose(changes: readonly Change[]): Promise<number> {
    const node = this.#raft();
    if (node === undefined) throw new Error('RaftProposer.propose without a raft node');
    try {
      return await node.propose(encodeChanges(changes));
    } catch (e) {
      if (isShoalError(e, 'raft')) throw writeFailed(e);
      throw e;
    }
  }

  apply(entry: Entry): void {
    this.#store.apply(decodeChanges(entry.data), entry.index);
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.#store.snapshot()));
  }

  /**
   * The same bytes as snapshot(), without holding the event loop: the rows are taken at once
   * (objects in the store are frozen and replaced on update, so the references are a consistent
   * view at this index) and serialized in slices, yielding between them. At 100,000 tasks one
   * synchronous snapshot blocks a manager for most of a second.
   */
  async snapshotAsync(): Promise<Uint8Array> {
    const snap = this.#store.snapshot();
    const enc = new TextEncoder();
    // Encoded slice by slice: one 88 MB string to join and encode would be a long stall itself.
    const parts: Uint8Array[] = [enc.encode(`{"index":${JSON.stringify(snap.index)},"tables":{`)];
    let first = true;
    for (const [table, rows] of Object.entries(snap.tables)) {
      parts.push(enc.encode(`${first ? '' : ','}${JSON.stringify(table)}:[`));
      first = false;
      for (let i = 0; i < rows.length; i += SNAPSHOT_SLICE) {
        if (i > 0) await new Promise<void>((r) => setImmediate(r));
        const slice = rows
          .slice(i, i + SNAPSHOT_SLICE)
          .map((o) => JSON.stringify(o))
          .join(',');
        parts.push(enc.encode(i > 0 ? `,${slice}` : slice));
      }
      parts.push(enc.encode(']'));
    }
    parts.push(enc.encode('}}'));
    return Buffer.concat(parts);
  }

  restore(data: Uint8Array): void {
    this.#store.restore(JSON.parse(new TextDecoder().decode(data)) as ReturnType<MemoryStore['snapshot']>);
  }
}
