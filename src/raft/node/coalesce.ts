// Fewer, larger messages per Ready. The core sends one MsgApp per proposal and an empty one to every
// follower at each commit advance, and a follower answers each one; under load that is several
// messages per entry, each paying the codec, gRPC and TLS. Merging only yields messages the core
// could have sent itself, and dropping a superseded one is the same as losing it on the network.
import type { Message, NodeId } from '../core/index.js';

/** A merged MsgApp stays below this many bytes of entry data (the core's default maxSizePerMsg). */
const MAX_MERGED_BYTES = 1024 * 1024;

function lastOf(m: Message): { index: number; term: number } {
  const e = m.entries[m.entries.length - 1];
  return e === undefined ? { index: m.index, term: m.logTerm } : { index: e.index, term: e.term };
}

function dataBytes(m: Message): number {
  let n = 0;
  for (const e of m.entries) n += e.data.byteLength;
  return n;
}

/**
 * Per peer, merges a MsgApp into the one just before it when it continues that one's entries (or
 * repeats its position, e.g. to carry a newer commit), and keeps only the last of consecutive
 * accepting MsgAppResps. Never reorders messages to one peer; other types pass through unchanged.
 */
export function coalesce(msgs: readonly Message[]): Message[] {
  if (msgs.length < 2) return [...msgs];
  const out: (Message | undefined)[] = [];
  /** Position in `out` of the latest message to each peer. */
  const latest = new Map<NodeId, number>();
  for (const m of msgs) {
    const at = latest.get(m.to);
    const prev = at === undefined ? undefined : out[at];
    if (prev !== undefined && at !== undefined && prev.term === m.term && prev.from === m.from) {
      if (m.type === 'MsgApp' && prev.type === 'MsgApp') {
        const last = lastOf(prev);
        if (
          m.index === last.index &&
          m.logTerm === last.term &&
          dataBytes(prev) + dataBytes(m) <= MAX_MERGED_BYTES
        ) {
          out[at] = {
            ...prev,
            entries: [...prev.entries, ...m.entries],
            commit: Math.max(prev.commit, m.commit),
          };
          continue;
        }
      } else if (
        m.type === 'MsgAppResp' &&
        prev.type === 'MsgAppResp' &&
        !m.reject &&
        !prev.reject &&
        m.index >= prev.index
      ) {
        out[at] = undefined;
      }
    }
    latest.set(m.to, out.length);
    out.push(m);
  }
  return out.filter((m): m is Message => m !== undefined);
}
