// End to end: what the stock docker CLI and docker-py (Debian's python3-docker) see of shoal's
// stored and echoed objects: swarm init's address pools and data path port in `docker info` and
// GET /swarm, network options, IPv6 subnets and IPAM drivers, and service and task specs echoed
// without defaults Docker does not add. Needs dockerd, busybox:local and python3-docker.
// Run under the e2e lock: it binds cluster ports 2377 and 2378 on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Shoald, engine, waitFor } from '../support/shoald.js';

const run = promisify(execFile);
let dir = '';
const nodes: Shoald[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-apicompat-'));
});

after(async () => {
  for (const n of nodes) {
    await n.docker(['service', 'rm', 'e2eplain', 'e2ev6']);
    await n.stop();
  }
  // Only this test's containers, found by their service name label.
  for (const svc of ['e2eplain', 'e2ev6']) {
    const ids = (await engine(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${svc}`])).stdout
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) await engine(['rm', '-f', ...ids]);
  }
  await rm(dir, { recursive: true, force: true });
});

async function node(name: string): Promise<Shoald> {
  const n = new Shoald(name, dir);
  nodes.push(n);
  await n.start();
  return n;
}

test(
  'docker CLI: swarm init options, network options and IPv6, and specs echoed as sent',
  { timeout: 240_000 },
  async () => {
    const a = await node('apicompat-a');
    const init = ['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377'];

    // Refused as dockerd refuses them, and nothing is left behind: the node is still out of a swarm.
    for (const [flags, message] of [
      [['--data-path-port', '80'], 'Datapath port number is not in valid range (1024-49151) : 80'],
      [
        ['--default-addr-pool', '10.20.0.0/16', '--default-addr-pool-mask-length', '30'],
        'subnet size is out of range: 30',
      ],
      [
        ['--default-addr-pool', '10.20.0.0/16', '--default-addr-pool-mask-length', '12'],
        'invalid CIDR: "10.20.0.0/16". Subnet size is too small for pool: 12',
      ],
    ] as const) {
      const r = await a.docker([...init, ...flags]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim(), `Error response from daemon: ${message}`);
    }
    assert.equal((await a.ok(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive');

    await a.ok([
      ...init,
      '--default-addr-pool',
      '10.20.0.0/16',
      '--default-addr-pool-mask-length',
      '26',
      '--data-path-port',
      '7789',
    ]);
    const cluster = JSON.parse(await a.ok(['info', '--format', '{{json .Swarm.Cluster}}'])) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      [cluster.DefaultAddrPool, cluster.SubnetSize, cluster.DataPathPort],
      [['10.20.0.0/16'], 26, 7789],
    );
    const text = await a.ok(['info']);
    assert.match(text, /Default Address Pool: 10\.20\.0\.0\/16/);
    assert.match(text, /SubnetSize: 26/);
    assert.match(text, /Data Path Port: 7789/);

    // Overlay networks: subnets from the pool, -o options kept, an IPv6 subnet beside an IPv4 one.
    await a.ok([
      'network',
      'create',
      '-d',
      'overlay',
      '-o',
      'com.example.opt=1',
      '--ipv6',
      '--subnet',
      'fd00:77::/64',
      'e2ev6net',
    ]);
    const net = JSON.parse(await a.ok(['network', 'inspect', 'e2ev6net', '--format', '{{json .}}'])) as {
      Options: Record<string, string>;
      EnableIPv6: boolean;
      IPAM: { Config: { Subnet: string; Gateway: string }[] };
    };
    assert.equal(net.Options['com.example.opt'], '1');
    assert.ok(net.Options['com.docker.network.driver.overlay.vxlanid_list']);
    assert.equal(net.EnableIPv6, true);
    assert.deepEqual(net.IPAM.Config, [
      { Subnet: '10.20.0.64/26', Gateway: '10.20.0.65' },
      { Subnet: 'fd00:77::/64', Gateway: 'fd00:77::1' },
    ]);
    const bad = await a.docker([
      'network',
      'create',
      '-d',
      'overlay',
      '--ipam-driver',
      'nosuchipam',
      'e2ebad',
    ]);
    assert.notEqual(bad.code, 0);
    assert.equal(
      bad.stderr.trim(),
      'Error response from daemon: rpc error: code = InvalidArgument desc = error during lookup of plugin nosuchipam',
    );

    // Services: a task on the dual-stack network gets an address of each family.
    await a.ok([
      'service',
      'create',
      '--no-resolve-image',
      '--detach',
      '--name',
      'e2eplain',
      'busybox:local',
      'sleep',
      '300',
    ]);
    await a.ok([
      'service',
      'create',
      '--no-resolve-image',
      '--detach',
      '--name',
      'e2ev6',
      '--network',
      'e2ev6net',
      'busybox:local',
      'sleep',
      '300',
    ]);
    assert.equal(
      (await a.ok(['service', 'inspect', 'e2eplain', '--format', '{{json .Endpoint.Spec}}'])).trim(),
      '{}',
    );
    const taskOf = async (svc: string): Promise<string> => {
      let id = '';
      await waitFor(
        `a running task of ${svc}`,
        async () => {
          id =
            (await a.ok(['service', 'ps', svc, '-q', '--filter', 'desired-state=running']))
              .trim()
              .split('\n')[0] ?? '';
          return (
            id !== '' &&
            (await a.ok(['inspect', '--type', 'task', '--format', '{{.Status.State}}', id])).trim() ===
              'running'
          );
        },
        90_000,
        250,
      );
      return id;
    };
    const plainTask = await taskOf('e2eplain');
    const spec = JSON.parse(
      await a.ok(['inspect', '--type', 'task', '--format', '{{json .Spec}}', plainTask]),
    ) as Record<string, unknown>;
    assert.equal('Runtime' in spec, false, 'a task spec shows no Runtime');
    const svcSpec = JSON.parse(
      await a.ok(['service', 'inspect', 'e2eplain', '--format', '{{json .Spec.TaskTemplate}}']),
    ) as Record<string, unknown>;
    assert.equal(svcSpec.Runtime, 'container', 'a service spec does, as Docker shows it');
    const v6Task = await taskOf('e2ev6');
    const attachments = JSON.parse(
      await a.ok(['inspect', '--type', 'task', '--format', '{{json .NetworksAttachments}}', v6Task]),
    ) as { Network: { Spec: { Name: string } }; Addresses: string[] }[];
    const onNet = attachments.find((x) => x.Network.Spec.Name === 'e2ev6net');
    assert.ok(onNet, JSON.stringify(attachments));
    assert.equal(onNet.Addresses.length, 2);
    assert.match(onNet.Addresses[0]!, /^10\.20\.0\.\d+\/26$/);
    assert.match(onNet.Addresses[1]!, /^fd00:77::\w+\/64$/);

    // docker events takes a filter key dockerd does not know, as dockerd does.
    const ev = await a.docker(['events', '--filter', 'nosuchkey=1', '--since', '5m', '--until', '0s']);
    assert.equal(ev.code, 0, ev.stderr);
  },
);

test(
  'docker-py: swarm init with pools, subnet size and data path port; Swarm attrs and an IPv6 network',
  { timeout: 180_000 },
  async () => {
    const b = await node('apicompat-b');
    const script = join(dir, 'pyinit.py');
    await writeFile(
      script,
      `
import docker, json, sys
c = docker.DockerClient(base_url=sys.argv[1], version='1.41')
c.swarm.init(advertise_addr='127.0.0.1', listen_addr='127.0.0.1:2378',
             default_addr_pool=['10.30.0.0/16'], subnet_size=28, data_path_port=7790)
c.swarm.reload()
ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet='fd00:88::/64')])
n = c.networks.create('pyv6', driver='overlay', enable_ipv6=True, ipam=ipam, options={'com.example.py': 'yes'})
n.reload()
print(json.dumps({'swarm': {k: c.swarm.attrs.get(k) for k in ('DefaultAddrPool', 'SubnetSize', 'DataPathPort')},
                  'net': {'ipam': n.attrs['IPAM']['Config'], 'options': n.attrs['Options']}}))
`,
    );
    const { stdout } = await run('python3', [script, b.host], { timeout: 120_000 }).catch(
      (e: { stderr?: string }) => {
        throw new Error(
          `docker-py script failed: ${e.stderr ?? String(e)}\n--- log ---\n${b.log.slice(-3000)}`,
        );
      },
    );
    const out = JSON.parse(stdout) as {
      swarm: Record<string, unknown>;
      net: { ipam: { Subnet: string }[]; options: Record<string, string> };
    };
    assert.deepEqual(out.swarm, { DefaultAddrPool: ['10.30.0.0/16'], SubnetSize: 28, DataPathPort: 7790 });
    assert.deepEqual(
      out.net.ipam.map((c) => c.Subnet),
      ['10.30.0.16/28', 'fd00:88::/64'],
    );
    assert.equal(out.net.options['com.example.py'], 'yes');
  },
);
