// The node's DNS resolver under load: queries per second and latency percentiles for the name of a
// service with 100 tasks, in dnsrr mode (100 A records, shuffled, cut to what fits 512 bytes) and
// in vip mode (one record). Prints one JSON line per mode.
//
//   flock /tmp/shoal-e2e.lock node dist/bench/dns.js [seconds per mode] [max queries] [window]
//
// The resolver runs in this process on 127.0.0.1 (listenLocal), with no upstream (nothing is
// forwarded: every name asked is the network's). The client is one child process (2 cores: one
// for each side) that keeps `window` UDP queries outstanding, each with its own ID; a query
// unanswered after 1 s counts as lost and is replaced. Bounded by time and by count. The
// resolver's CPU time per query is printed too: qps and latency depend on what else runs.
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { DnsResolver, testEndpoint, testNetwork } from '../src/network/index.js';

interface Result {
  mode: string;
  queries: number;
  lost: number;
  seconds: number;
  qps: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  answers_per_reply: number;
}

/** The client: `window` queries in flight for `name` until the time or the count runs out. */
async function client(
  port: number,
  name: string,
  secs: number,
  max: number,
  window: number,
): Promise<Result> {
  const sock = dgram.createSocket('udp4');
  const sentAt = new Float64Array(65536).fill(-1);
  const lat: number[] = [];
  let sent = 0;
  let lost = 0;
  let records = 0;
  const deadline = performance.now() + secs * 1000;
  const packets = new Map<number, Buffer>();
  const packet = (id: number): Buffer => {
    let p = packets.get(id);
    if (!p) {
      p = dnsPacket.encode({
        type: 'query',
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'A', name, class: 'IN' }],
      });
      packets.set(id, p);
    }
    return p;
  };
  let nextId = 0;
  const send = (): void => {
    if (sent >= max || performance.now() > deadline) return;
    const id = nextId;
    nextId = (nextId + 1) & 0xffff;
    sentAt[id] = performance.now();
    sent++;
    sock.send(packet(id), port, '127.0.0.1');
  };
  const t0 = performance.now();
  return new Promise((resolve) => {
    const finish = (): void => {
      clearInterval(reaper);
      sock.close();
      const secsTaken = (performance.now() - t0) / 1000;
      lat.sort((a, b) => a - b);
      const pct = (p: number): number =>
        Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0).toFixed(3));
      resolve({
        mode: name,
        queries: lat.length,
        lost,
        seconds: Number(secsTaken.toFixed(2)),
        qps: Math.round(lat.length / secsTaken),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: pct(1),
        answers_per_reply: Number((records / Math.max(1, lat.length)).toFixed(1)),
      });
    };
    const outstanding = (): number => sent - lat.length - lost;
    sock.on('message', (msg) => {
      const id = msg.readUInt16BE(0);
      const at = sentAt[id]!;
      if (at < 0) return;
      sentAt[id] = -1;
      lat.push(performance.now() - at);
      records += msg.readUInt16BE(6);
      send();
      if (outstanding() === 0) finish();
    });
    // Lost queries are replaced, so the window never drains for good.
    const reaper = setInterval(() => {
      const now = performance.now();
      for (let id = 0; id < 65536; id++) {
        const at = sentAt[id]!;
        if (at >= 0 && now - at > 1000) {
          sentAt[id] = -1;
          lost++;
          send();
        }
      }
      if (outstanding() === 0) finish();
    }, 250);
    for (let i = 0; i < window; i++) send();
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--client') {
    const [port, name, secs, max, window] = process.argv.slice(3);
    const r = await client(Number(port), name!, Number(secs), Number(max), Number(window));
    process.send?.(r);
    return;
  }
  const secs = Number(process.argv[2] ?? 5);
  const max = Number(process.argv[3] ?? 200_000);
  const window = Number(process.argv[4] ?? 32);
  const tasks = Array.from({ length: 100 }, (_, i) => i);
  const view = testNetwork(
    [
      { id: 's-rr', name: 'rr', mode: 'dnsrr', aliases: [] },
      { id: 's-vip', name: 'vip', mode: 'vip', vip: '10.0.0.2', aliases: [] },
    ],
    tasks.flatMap((i) => [
      testEndpoint({
        id: `r${i}`,
        name: `rr.${i + 1}.r${i}`,
        serviceId: 's-rr',
        addresses: [`10.0.1.${i + 1}/16`],
      }),
      testEndpoint({
        id: `v${i}`,
        name: `vip.${i + 1}.v${i}`,
        serviceId: 's-vip',
        addresses: [`10.0.2.${i + 1}/16`],
      }),
    ]),
  );
  const resolver = new DnsResolver({ upstreams: [] });
  resolver.start();
  try {
    await resolver.update([view], () => undefined);
    const port = await resolver.listenLocal(view.id, '127.0.0.1', 0);
    for (const mode of ['rr', 'vip']) {
      const cpu0 = process.cpuUsage();
      const child = fork(fileURLToPath(import.meta.url), [
        '--client',
        String(port),
        mode,
        String(secs),
        String(max),
        String(window),
      ]);
      const r = await new Promise<Result>((resolve, reject) => {
        const timer = setTimeout(
          () => {
            child.kill('SIGKILL');
            reject(new Error('client did not finish'));
          },
          (secs + 30) * 1000,
        );
        child.once('message', (m) => {
          clearTimeout(timer);
          resolve(m as Result);
        });
        child.once('exit', (code) => code !== 0 && reject(new Error(`client exited with ${code}`)));
      });
      const cpu = process.cpuUsage(cpu0);
      console.log(
        JSON.stringify({
          bench: 'dns',
          ...r,
          // The resolver's own CPU per answer: what the figures above cost, whatever else runs.
          server_cpu_us_per_query: Number(((cpu.user + cpu.system) / Math.max(1, r.queries)).toFixed(1)),
          mode: mode === 'rr' ? 'dnsrr, 100 tasks' : 'vip, 100 tasks',
          window,
          servfail: resolver.stats().servfail,
        }),
      );
    }
  } finally {
    await resolver.stop();
  }
}

await main();
