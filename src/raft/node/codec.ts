// Binary encoding of what the driver writes to disk (WAL records, snapshot files) and sends to peers
// (messages). Integers are float64: exact up to 2^53, more than any index or term will reach.
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  Snapshot,
  SnapshotMetadata,
} from '../core/index.js';

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#room(1);
    this.#view.setUint8(this.#len, v);
    this.#len += 1;
  }
  u32(v: number): void {
    this.#room(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
  }
  num(v: number): void {
    this.#room(8);
    this.#view.setFloat64(this.#len, v);
    this.#len += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.#room(b.byteLength);
    this.#buf.set(b, this.#len);
    this.#len += b.byteLength;
  }
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

class Reader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #off = 0;
  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  #need(n: number): void {
    if (this.#off + n > this.#buf.byteLength) {
      throw new CodecError(`truncated: needs ${n} bytes at ${this.#off} of ${this.#buf.byteLength}`);
    }
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#off++);
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#off);
    this.#off += 4;
    return v;
  }
  num(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.#off);
    this.#off += 8;
    if (!Number.isSafeInteger(v)) throw new CodecError(`not an integer: ${v}`);
    return v;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    this.#need(n);
    const b = this.#buf.slice(this.#off, this.#off + n);
    this.#off += n;
    return b;
  }
  end(): void {
    if (this.#off !== this.#buf.byteLength) {
      throw new CodecError(`${this.#buf.byteLength - this.#off} trailing bytes`);
    }
  }
}

const ENTRY_TYPES: readonly EntryType[] = ['EntryNormal', 'EntryConfChange'];
const MESSAGE_TYPES: readonly MessageType[] = [
  'MsgHup',
  'MsgBeat',
  'MsgCheckQuorum',
  'MsgUnreachable',
  'MsgProp',
  'MsgReadIndex',
  'MsgTransferLeader',
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgSnap',
  'MsgSnapResp',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgTimeoutNow',
  'MsgReadIndexResp',
];

function code<T>(list: readonly T[], v: T, what: string): number {
  const i = list.indexOf(v);
  if (i < 0) throw new CodecError(`unknown ${what} ${String(v)}`);
  return i;
}
function decodeCode<T>(list: readonly T[], i: number, what: string): T {
  const v = list[i];
  if (v === undefined) throw new CodecError(`unknown ${what} code ${i}`);
  return v;
}

function writeIds(w: Writer, ids: readonly number[]): void {
  w.u32(ids.length);
  for (const id of ids) w.num(id);
}
function readIds(r: Reader): number[] {
  const n = r.u32();
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.num());
  return out;
}
function writeConfState(w: Writer, cs: ConfState): void {
  writeIds(w, cs.voters);
  writeIds(w, cs.learners);
}
function readConfState(r: Reader): ConfState {
  return { voters: readIds(r), learners: readIds(r) };
}
function writeMeta(w: Writer, m: SnapshotMetadata): void {
  w.num(m.index);
  w.num(m.term);
  writeConfState(w, m.confState);
}
function readMeta(r: Reader): SnapshotMetadata {
  return { index: r.num(), term: r.num(), confState: readConfState(r) };
}
function writeHardState(w: Writer, hs: HardState): void {
  w.num(hs.term);
  w.num(hs.vote);
  w.num(hs.commit);
}
function readHardState(r: Reader): HardState {
  return { term: r.num(), vote: r.num(), commit: r.num() };
}
function writeEntries(w: Writer, ents: readonly Entry[]): void {
  w.u32(ents.length);
  for (const e of ents) {
    w.num(e.index);
    w.num(e.term);
    w.u8(code(ENTRY_TYPES, e.type, 'entry type'));
    w.bytes(e.data);
  }
}
function readEntries(r: Reader): Entry[] {
  const n = r.u32();
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const index = r.num();
    const term = r.num();
    const type = decodeCode(ENTRY_TYPES, r.u8(), 'entry type');
    out.push({ index, term, type, data: r.bytes() });
  }
  return out;
}

/**
 * One WAL record. `ready`: what one Ready made durable (the snapshot marker names a snapshot file
 * written before it). `base`: the first record of a rewritten (compacted) log: the log starts after
 * baseIndex/baseTerm, and `snapshot` names the snapshot file in force (its index may be past the base:
 * entries are kept behind a snapshot for slow followers).
 */
export type WalRecord =
  | { kind: 'ready'; hardState?: HardState; snapshot?: SnapshotMetadata; entries: Entry[] }
  | {
      kind: 'base';
      baseIndex: number;
      baseTerm: number;
      hardState: HardState;
      snapshot: SnapshotMetadata;
      entries: Entry[];
    };

const REC_READY = 1;
const REC_BASE = 2;

export function encodeRecord(rec: WalRecord): Uint8Array {
  const w = new Writer();
  if (rec.kind === 'ready') {
    w.u8(REC_READY);
    w.u8((rec.hardState ? 1 : 0) | (rec.snapshot ? 2 : 0));
    if (rec.hardState) writeHardState(w, rec.hardState);
    if (rec.snapshot) writeMeta(w, rec.snapshot);
  } else {
    w.u8(REC_BASE);
    w.num(rec.baseIndex);
    w.num(rec.baseTerm);
    writeHardState(w, rec.hardState);
    writeMeta(w, rec.snapshot);
  }
  writeEntries(w, rec.entries);
  return w.finish();
}

export function decodeRecord(buf: Uint8Array): WalRecord {
  const r = new Reader(buf);
  const kind = r.u8();
  let rec: WalRecord;
  if (kind === REC_READY) {
    const flags = r.u8();
    const hardState = flags & 1 ? readHardState(r) : undefined;
    const snapshot = flags & 2 ? readMeta(r) : undefined;
    rec = { kind: 'ready', entries: [] };
    if (hardState) rec.hardState = hardState;
    if (snapshot) rec.snapshot = snapshot;
    rec.entries = readEntries(r);
  } else if (kind === REC_BASE) {
    const baseIndex = r.num();
    const baseTerm = r.num();
    const hardState = readHardState(r);
    const snapshot = readMeta(r);
    rec = { kind: 'base', baseIndex, baseTerm, hardState, snapshot, entries: readEntries(r) };
  } else {
    throw new CodecError(`unknown WAL record kind ${kind}`);
  }
  r.end();
  return rec;
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new Writer();
  writeMeta(w, s.metadata);
  w.bytes(s.data);
  return w.finish();
}

/** encodeSnapshot's bytes as [everything before the data, the data itself]: no copy of the data. */
export function encodeSnapshotParts(s: Snapshot): [Uint8Array, Uint8Array] {
  const w = new Writer();
  writeMeta(w, s.metadata);
  w.u32(s.data.byteLength); // what w.bytes(s.data) writes before the data
  return [w.finish(), s.data];
}

export function decodeSnapshot(buf: Uint8Array): Snapshot {
  const r = new Reader(buf);
  const s = { metadata: readMeta(r), data: r.bytes() };
  r.end();
  return s;
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  w.u8(code(MESSAGE_TYPES, m.type, 'message type'));
  w.num(m.to);
  w.num(m.from);
  w.num(m.term);
  w.num(m.logTerm);
  w.num(m.index);
  w.num(m.commit);
  w.u8(m.reject ? 1 : 0);
  w.num(m.rejectHint);
  writeEntries(w, m.entries);
  w.u8((m.context ? 1 : 0) | (m.snapshot ? 2 : 0) | (m.chunk ? 4 : 0));
  if (m.context) w.bytes(m.context);
  if (m.snapshot) writeMeta(w, m.snapshot);
  if (m.chunk) {
    w.num(m.chunk.offset);
    w.num(m.chunk.total);
    w.u8(m.chunk.done ? 1 : 0);
    w.bytes(m.chunk.data);
  }
  return w.finish();
}

export function decodeMessage(buf: Uint8Array): Message {
  const r = new Reader(buf);
  const m: Message = {
    type: decodeCode(MESSAGE_TYPES, r.u8(), 'message type'),
    to: r.num(),
    from: r.num(),
    term: r.num(),
    logTerm: r.num(),
    index: r.num(),
    commit: r.num(),
    reject: r.u8() === 1,
    rejectHint: r.num(),
    entries: readEntries(r),
  };
  const flags = r.u8();
  if (flags & 1) m.context = r.bytes();
  if (flags & 2) m.snapshot = readMeta(r);
  if (flags & 4) m.chunk = { offset: r.num(), total: r.num(), done: r.u8() === 1, data: r.bytes() };
  r.end();
  return m;
}
