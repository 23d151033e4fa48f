// The resolver's hot path on the wire: reading a query's one question and writing the answers
// of records.ts, by hand. dns-packet (which the tests' client and fake upstream use) builds an
// object per record and writes names uncompressed; this writes each record's name as a pointer
// to the question (RFC 1035 §4.1.4), so a 512-byte answer holds about 30 A records instead of about 20.
const HEADER = 12;
export const QR = 1 << 15;
export const AA = 1 << 10;
export const TC = 1 << 9;
export const RD = 1 << 8;
export const RA = 1 << 7;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
export const MAX_UDP = 4096;
const TYPES: Record<number, string> = { 1: 'A', 12: 'PTR', 28: 'AAAA', 255: 'ANY' };
const TYPE_NUMBER = { A: 1, PTR: 12, AAAA: 28 } as const;

export interface Query {
  id: number;
  flags: number;
  /** The question's name as asked, without a trailing dot (case kept). */
  name: string;
  /** Its type's name ("A", "AAAA", "PTR", "ANY"), or the number for others. */
  type: string;
  /** Where the question ends: the header and question are msg[0, end). */
  end: number;
  /** The client's EDNS UDP size, if it sent an OPT record. */
  udpSize: number | undefined;
}

/** The query's header and first question, or undefined for anything that is not one. */
export function parseQuery(msg: Buffer): Query | undefined {
  if (msg.length < HEADER + 5) return undefined;
  const flags = msg.readUInt16BE(2);
  if ((flags & QR) !== 0 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = HEADER;
  for (;;) {
    const len = msg[off];
    // No pointers in a question: a query has nothing before it to point at.
    if (len === undefined || len > 63 || labels.length > 127) return undefined;
    off++;
    if (len === 0) break;
    if (off + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off, off + len));
    off += len;
  }
  if (off + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(off);
  const end = off + 4;
  let udpSize: number | undefined;
  // An OPT record sits in the additional section; a stub's query has nothing else before it.
  if (msg.readUInt16BE(6) === 0 && msg.readUInt16BE(8) === 0 && msg.readUInt16BE(10) >= 1) {
    if (msg[end] === 0 && end + 11 <= msg.length && msg.readUInt16BE(end + 1) === 41) {
      udpSize = msg.readUInt16BE(end + 3);
    }
  }
  return {
    id: msg.readUInt16BE(0),
    flags,
    name: labels.join('.'),
    type: TYPES[qtype] ?? String(qtype),
    end,
    udpSize,
  };
}

/** The largest UDP answer this client takes: 512, or its EDNS size (up to MAX_UDP). */
export function udpLimit(q: Query): number {
  return Math.min(MAX_UDP, Math.max(512, q.udpSize ?? 512));
}

function header(msg: Buffer, q: Query, out: Buffer, flags: number, an: number, ar: number): void {
  msg.copy(out, 0, 0, q.end);
  out.writeUInt16BE(QR | (q.flags & (0xf << 11)) | (q.flags & RD) | RA | flags, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(an, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(ar, 10);
}

function rdataOf(type: 'A' | 'AAAA' | 'PTR', value: string): Buffer {
  if (type === 'A') {
    const b = Buffer.allocUnsafe(4);
    let i = 0;
    for (const part of value.split('.')) b[i++] = Number(part);
    return b;
  }
  if (type === 'AAAA') {
    const [head = '', tail] = value.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return b;
  }
  const parts = value.split('.').filter((l) => l !== '');
  return Buffer.concat([
    ...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
}

/**
 * An answer to `q` with `values` of one type, TTL `ttl`, cut to `limit` bytes with TC set when
 * they do not all fit. An OPT record comes back when the query had one.
 */
export function encodeAnswer(
  msg: Buffer,
  q: Query,
  rcode: number,
  type: 'A' | 'AAAA' | 'PTR',
  values: readonly string[],
  ttl: number,
  limit: number,
): Buffer {
  const opt = q.udpSize !== undefined ? 11 : 0;
  // Only the records that fit are written (a dnsrr answer of 100 tasks keeps about 30).
  const rdatas: Buffer[] = [];
  let size = q.end + opt;
  for (const v of values) {
    const r = rdataOf(type, v);
    if (size + 12 + r.length > limit) break;
    size += 12 + r.length;
    rdatas.push(r);
  }
  const n = rdatas.length;
  const out = Buffer.alloc(size);
  header(msg, q, out, AA | rcode | (n < values.length ? TC : 0), n, opt ? 1 : 0);
  let off = q.end;
  for (let i = 0; i < n; i++) {
    const r = rdatas[i]!;
    out.writeUInt16BE(0xc000 | HEADER, off); // the question's name
    out.writeUInt16BE(TYPE_NUMBER[type], off + 2);
    out.writeUInt16BE(1, off + 4); // IN
    out.writeUInt32BE(ttl, off + 6);
    out.writeUInt16BE(r.length, off + 10);
    r.copy(out, off + 12);
    off += 12 + r.length;
  }
  if (opt) {
    out[off] = 0;
    out.writeUInt16BE(41, off + 1);
    out.writeUInt16BE(MAX_UDP, off + 3);
    out.writeUInt32BE(0, off + 5);
    out.writeUInt16BE(0, off + 9);
  }
  return out;
}

/** The length of the header and first question of a raw message, or undefined if malformed. */
function questionEnd(msg: Buffer): number | undefined {
  if (msg.length < HEADER || msg.readUInt16BE(4) < 1) return undefined;
  let off = HEADER;
  for (let labels = 0; labels < 128; labels++) {
    const len = msg[off];
    if (len === undefined || len > 63) return undefined;
    off += 1 + len;
    if (len === 0) return off + 4 <= msg.length ? off + 4 : undefined;
  }
  return undefined;
}

/** A reply with no records built from a raw query or answer (its ID, opcode, RD and question). */
export function rawReply(msg: Buffer, rcode: number, truncated = false): Buffer | undefined {
  const end = questionEnd(msg);
  if (end === undefined) return undefined;
  const out = Buffer.from(msg.subarray(0, end));
  const flags = msg.readUInt16BE(2);
  out.writeUInt16BE(QR | (flags & (0xf << 11)) | (flags & RD) | RA | (truncated ? TC : 0) | rcode, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  return out;
}
