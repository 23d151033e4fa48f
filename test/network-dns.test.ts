// The node's resolver inside a sandbox namespace, queried from a task namespace (root only).
// sd-sbx holds a bridge with the gateway 10.96.1.1/24; sd-task sits on it with 10.96.1.5/24 and
// no other route, so no query can leave the machine. The resolver runs in this process (the
// daemon's namespace) and listens in sd-sbx through its bind helper; its upstream is a fake on
// loopback here, never the host's resolver.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  DnsResolver,
  FakeUpstream,
  testEndpoint as endpoint,
  testNetwork as network,
  type QueryInfo,
} from '../src/network/index.js';

const run = promisify(execFile);
const SBX = 'sd-sbx';
const TASK = 'sd-task';
const LATE = 'sd-late';
const root = process.getuid?.() === 0;
const TESTING = fileURLToPath(new URL('../src/network/dns/testing.js', import.meta.url));

async function ip(...args: string[]): Promise<void> {
  await run('ip', args, { timeout: 10_000 });
}

async function cleanup(): Promise<void> {
  for (const ns of [SBX, TASK, LATE]) await ip('netns', 'del', ns).catch(() => {});
}

const view = {
  ...network(
    [
      { id: 's-web', name: 'web', mode: 'vip', vip: '10.96.1.2', aliases: [] },
      { id: 's-rr', name: 'rr', mode: 'dnsrr', aliases: [] },
    ],
    [
      endpoint({ id: 't1', name: 'web.1.t1', serviceId: 's-web', addresses: ['10.96.1.5/24'] }),
      endpoint({ id: 't2', name: 'web.2.t2', serviceId: 's-web', addresses: ['10.96.1.6/24'] }),
      endpoint({ id: 'r1', name: 'rr.1.r1', serviceId: 's-rr', addresses: ['10.96.1.7/24'] }),
      endpoint({ id: 'r2', name: 'rr.2.r2', serviceId: 's-rr', addresses: ['10.96.1.8/24'] }),
    ],
    'sdnet',
  ),
  subnets: [{ subnet: '10.96.1.0/24', gateway: '10.96.1.1' }],
};

const upstream = new FakeUpstream('127.0.0.1');
const seen: QueryInfo[] = [];

/** A query from the task namespace with the stub client of testing.ts: rcode and addresses. */
async function fromTask(name: string, tcp = false, ns = TASK): Promise<{ rcode: string; addrs: string[] }> {
  const script =
    `const { dnsQuery } = await import(${JSON.stringify(TESTING)});` +
    `const p = await dnsQuery({ host: '10.96.1.1', port: 53, name: ${JSON.stringify(name)}, tcp: ${tcp} });` +
    `console.log(JSON.stringify({ rcode: p.rcode, addrs: (p.answers ?? []).map((a) => a.data) }));`;
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script],
    { timeout: 15_000 },
  );
  return JSON.parse(stdout) as { rcode: string; addrs: string[] };
}

before(async () => {
  if (!root) return;
  await cleanup();
  await ip('netns', 'add', SBX);
  await ip('netns', 'add', TASK);
  await ip('-n', SBX, 'link', 'set', 'lo', 'up');
  await ip('-n', TASK, 'link', 'set', 'lo', 'up');
  await ip('-n', SBX, 'link', 'add', 'sdbr0', 'type', 'bridge');
  await ip('-n', SBX, 'addr', 'add', '10.96.1.1/24', 'dev', 'sdbr0');
  await ip('-n', SBX, 'link', 'set', 'sdbr0', 'up');
  await ip('-n', SBX, 'link', 'add', 'sdv0', 'type', 'veth', 'peer', 'name', 'sdv1', 'netns', TASK);
  await ip('-n', SBX, 'link', 'set', 'sdv0', 'master', 'sdbr0', 'up');
  await ip('-n', TASK, 'addr', 'add', '10.96.1.5/24', 'dev', 'sdv1');
  await ip('-n', TASK, 'link', 'set', 'sdv1', 'up');
  await upstream.start();
});

after(async () => {
  upstream.stop();
  if (root) await cleanup();
});

test(
  'a task namespace resolves service names on its gateway, served from the daemon namespace',
  { skip: !root && 'needs root' },
  async () => {
    const r = new DnsResolver({
      onQuery: (q) => seen.push(q),
      upstreams: [`127.0.0.1:${upstream.port}`],
    });
    try {
      r.start();
      await r.update([view], (id) => (id === 'sdnet' ? SBX : undefined));
      assert.equal(r.stats().listeners, 1, 'one listener (UDP and TCP) on the one gateway');

      assert.deepEqual(await fromTask('web'), { rcode: 'NOERROR', addrs: ['10.96.1.2'] });
      const tasks = await fromTask('tasks.web');
      assert.deepEqual(tasks.addrs.sort(), ['10.96.1.5', '10.96.1.6']);
      assert.deepEqual((await fromTask('rr', true)).addrs.sort(), ['10.96.1.7', '10.96.1.8'], 'over TCP');
      assert.deepEqual(
        await fromTask('nothing.test'),
        { rcode: 'NXDOMAIN', addrs: [] },
        'the fake upstream said so',
      );
      assert.ok(upstream.seen.includes('udp:nothing.test'));

      // The parent sees the task's own address as the source.
      const web = seen.find((q) => q.name === 'web');
      assert.equal(web?.from, '10.96.1.5');
      assert.equal(web?.networkId, 'sdnet');
      assert.equal(seen.find((q) => q.name === 'rr')?.from, '10.96.1.5');

      // busybox's nslookup, as a task image would have it.
      const { stdout } = await run('ip', ['netns', 'exec', TASK, 'busybox', 'nslookup', 'web', '10.96.1.1'], {
        timeout: 15_000,
      });
      assert.match(stdout, /Address:\s+10\.96\.1\.2/);

      // The network leaves the views: its listener closes.
      await r.update([], () => undefined);
      assert.equal(r.stats().listeners, 0);
      await assert.rejects(fromTask('web'));
    } finally {
      await r.stop();
    }
  },
);

// This kernel lets a socket bind an address its namespace does not hold yet (were it refused,
// the resolver would try again every `retryMs`): a sandbox's listener may come before its bridge's
// address, and answers once the address is there.
test(
  'a sandbox whose gateway address comes later answers once it is there',
  { skip: !root && 'needs root' },
  async () => {
    await ip('netns', 'add', LATE);
    await ip('-n', LATE, 'link', 'set', 'lo', 'up');
    await ip('-n', LATE, 'link', 'add', 'sdbr1', 'type', 'bridge');
    await ip('-n', LATE, 'link', 'set', 'sdbr1', 'up');
    const logs: string[] = [];
    const r = new DnsResolver({ upstreams: [], retryMs: 200, log: (m) => logs.push(m) });
    try {
      r.start();
      await r.update([view], () => LATE);
      await ip('-n', LATE, 'addr', 'add', '10.96.1.1/24', 'dev', 'sdbr1');
      const deadline = Date.now() + 10_000;
      while (r.stats().listeners === 0 && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 100));
      assert.equal(r.stats().listeners, 1, logs.join('\n'));
      assert.deepEqual(await fromTask('web', false, LATE), { rcode: 'NOERROR', addrs: ['10.96.1.2'] });
    } finally {
      await r.stop();
      await ip('netns', 'del', LATE).catch(() => {});
    }
  },
);
