// Views and a seeded random for the resolver's tests and bench (bench/dns.ts).
import dgram from 'node:dgram';
import net, { connect, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType, StringAnswer } from 'dns-packet';
import type { EndpointView, NetworkView, ServiceView } from '../../api/index.js';
import { testEndpoint, testNetwork } from '../testviews.js';

/** A seeded random (mulberry32): the same seed gives the same shuffles. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function endpoint(over: Partial<EndpointView> & { id: string; name: string }): EndpointView {
  return testEndpoint(over);
}

export function network(services: ServiceView[], endpoints: EndpointView[], id = 'net1'): NetworkView {
  return testNetwork({ id, endpoints, services });
}

/** A decoded answer; dns-packet decodes the rcode, its types omit it. */
export type Answered = DecodedPacket & { rcode: string };

export interface QueryOptions {
  host: string;
  port: number;
  name: string;
  type?: RecordType;
  tcp?: boolean;
  timeoutMs?: number;
}

/** One query, over UDP or TCP, as a stub resolver sends it (RD set, no EDNS). */
export function dnsQuery(o: QueryOptions): Promise<Answered> {
  const msg = dnsPacket.encode({
    type: 'query',
    id: Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: o.type ?? 'A', name: o.name, class: 'IN' }],
  });
  return o.tcp
    ? rawTcp(o.host, o.port, msg, o.timeoutMs ?? 3000)
    : rawUdp(o.host, o.port, msg, o.timeoutMs ?? 3000);
}

export function rawUdp(host: string, port: number, msg: Buffer, timeoutMs: number): Promise<Answered> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no answer'));
    }, timeoutMs);
    s.on('message', (b) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(b) as Answered);
    });
    s.send(msg, port, host);
  });
}

export function rawTcp(host: string, port: number, msg: Buffer, timeoutMs: number): Promise<Answered> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error('no answer')), timeoutMs);
    let buf = Buffer.alloc(0);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    sock.write(Buffer.concat([len, msg]));
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Answered);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => reject(new Error('closed')));
  });
}

/**
 * A fake upstream on loopback: `example.test` answers 192.0.2.7, `nx.test` NXDOMAIN, `big.test`
 * a truncated UDP answer and its full answer over TCP, `slow.test` never.
 */
export class FakeUpstream {
  readonly host: string;
  udp = dgram.createSocket('udp4');
  tcp = net.createServer();
  port = 0;
  seen: string[] = [];

  constructor(host: string) {
    this.host = host;
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.udp.bind(0, this.host, () => r()));
    this.port = this.udp.address().port;
    await new Promise<void>((r) => this.tcp.listen(this.port, this.host, () => r()));
    this.udp.on('message', (msg, rinfo) => {
      const out = this.#answer(msg, false);
      if (out) this.udp.send(out, rinfo.port, rinfo.address);
    });
    this.tcp.on('connection', (s) => {
      s.on('error', () => {});
      s.once('data', (d) => {
        const out = this.#answer(d.subarray(2, 2 + d.readUInt16BE(0)), true);
        if (!out) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        s.end(Buffer.concat([len, out]));
      });
    });
  }

  #answer(msg: Buffer, tcp: boolean): Buffer | undefined {
    const q = dnsPacket.decode(msg);
    const name = q.questions![0]!.name;
    this.seen.push(`${tcp ? 'tcp' : 'udp'}:${name}`);
    if (name === 'slow.test') return undefined;
    const a = (data: string): StringAnswer => ({ type: 'A', name, ttl: 60, class: 'IN', data });
    const base = { type: 'response' as const, id: q.id!, questions: q.questions! };
    if (name === 'example.test') return dnsPacket.encode({ ...base, flags: 0x80, answers: [a('192.0.2.7')] });
    if (name === 'big.test' && !tcp) return dnsPacket.encode({ ...base, flags: 0x80 | 0x200, answers: [] });
    if (name === 'big.test') return dnsPacket.encode({ ...base, answers: [a('192.0.2.8'), a('192.0.2.9')] });
    return dnsPacket.encode({ ...base, flags: 0x80 | 3, answers: [] });
  }

  stop(): void {
    this.udp.close();
    this.tcp.close();
  }
}
