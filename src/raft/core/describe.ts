// One-line descriptions of messages, entries and Readies, for logs and the interaction tests.
import { decodeConfChange, describeConfChange, describeConfState } from './confchange.js';
import type {
  Entry,
  HardState,
  Message,
  MessageType,
  Ready,
  ReadState,
  Snapshot,
  SoftState,
} from './types.js';

/** Shows data as a quoted string when it is printable ASCII, else as hex. */
export function describeData(data: Uint8Array): string {
  let printable = true;
  for (const b of data) if (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c) printable = false;
  if (printable) return `"${String.fromCharCode(...data)}"`;
  let hex = '';
  for (const b of data) hex += b.toString(16).padStart(2, '0');
  return `0x${hex}`;
}

export function describeEntry(e: Entry): string {
  if (e.type === 'EntryConfChange') {
    let cc: string;
    try {
      cc = describeConfChange(decodeConfChange(e.data));
    } catch {
      cc = `invalid ${describeData(e.data)}`;
    }
    return `${e.term}/${e.index} EntryConfChange ${cc}`;
  }
  return `${e.term}/${e.index} EntryNormal ${describeData(e.data)}`;
}

export function describeEntries(ents: Entry[]): string {
  return ents.map(describeEntry).join('\n');
}

export function describeMessageType(t: MessageType): string {
  return t;
}

export function describeSnapshotMeta(s: Snapshot['metadata']): string {
  return `Index:${s.index} Term:${s.term} ConfState:${describeConfState(s.confState)}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.snapshot !== undefined) s += ` Snapshot:[${describeSnapshotMeta(m.snapshot)}]`;
  if (m.chunk !== undefined) {
    const c = m.chunk;
    s +=
      m.type === 'MsgSnap'
        ? ` Chunk:[${c.offset}+${c.data.byteLength}/${c.total}${c.done ? ' done' : ''}]`
        : ` Expect:${c.offset}/${c.total}`;
  }
  if (m.context !== undefined) s += ` Context:${describeData(m.context)}`;
  return s;
}

export function describeHardState(hs: HardState): string {
  return `Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`;
}

export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead} State:${ss.state}`;
}

export function describeReadState(rs: ReadState): string {
  return `Index:${rs.index} RequestCtx:${describeData(rs.requestCtx)}`;
}

/** A Ready as a block of lines: what changed, what to persist, apply and send. */
export function describeReady(rd: Ready): string {
  const lines: string[] = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState !== undefined) lines.push(describeSoftState(rd.softState));
  if (rd.hardState !== undefined) lines.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.readStates.length > 0) {
    lines.push('ReadStates:');
    for (const rs of rd.readStates) lines.push(describeReadState(rs));
  }
  if (rd.entries.length > 0) {
    lines.push('Entries:');
    for (const e of rd.entries) lines.push(describeEntry(e));
  }
  if (rd.snapshot !== undefined) {
    lines.push(`Snapshot ${describeSnapshotMeta(rd.snapshot.metadata)} Data:${rd.snapshot.data.byteLength}B`);
  }
  if (rd.committedEntries.length > 0) {
    lines.push('CommittedEntries:');
    for (const e of rd.committedEntries) lines.push(describeEntry(e));
  }
  if (rd.messages.length > 0) {
    lines.push('Messages:');
    for (const m of rd.messages) lines.push(describeMessage(m));
  }
  return lines.join('\n');
}
