// End to end with this machine's real dockerd: shoal's plugin (socket sp-test in
// /run/docker/plugins) drives an engine network made by EngineNetworks for an overlay network
// view, and the docker executor creates two task containers on it through ShoalTaskNetworking.
// The sandbox is a test SandboxHost: netns sp-sbx with a bridge holding the gateway. Root only;
// run under the e2e lock (flock /tmp/shoal-e2e.lock).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Assignment, Network, NetworkView } from '../../src/api/index.js';
import { EngineApiClient } from '../../src/engineclient/index.js';
import { DockerExecutor } from '../../src/agent/index.js';
import {
  EngineNetworks,
  PluginServer,
  ShoalTaskNetworking,
  type SandboxHost,
} from '../../src/network/index.js';

const ENGINE = '/var/run/docker.sock';
const NODE_ID = 'spnode0000000000000000001';
const NETNS = 'sp-sbx';
const NETNS2 = 'sp-sbx2';
const SKIP = process.getuid?.() !== 0 ? 'needs root' : !existsSync(ENGINE) ? 'needs the host dockerd' : false;

function run(cmd: string, args: string[], timeout = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}
const docker = (...args: string[]): Promise<string> => run('docker', args);
const quiet = (p: Promise<unknown>): Promise<void> =>
  p.then(
    () => undefined,
    () => undefined,
  );

/** Per network a namespace with a bridge holding the gateway: the real SandboxHost, minus VXLAN. */
class TestSandboxHost implements SandboxHost {
  #ns = new Map<string, string>();
  constructor(readonly names: Record<string, string>) {}
  async ensure(view: NetworkView): Promise<string> {
    const ns = this.names[view.id];
    if (!ns) throw new Error(`no namespace name for ${view.id}`);
    if (this.#ns.has(view.id)) return ns;
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    const s = view.subnets[0]!;
    await run('ip', ['-n', ns, 'addr', 'add', `${s.gateway}/${s.subnet.split('/')[1]}`, 'dev', 'br0']);
    await run('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    this.#ns.set(view.id, ns);
    return ns;
  }
  async plug(networkId: string, ifname: string): Promise<void> {
    const ns = this.#ns.get(networkId);
    if (!ns) throw new Error(`no sandbox for ${networkId}`);
    await run('ip', ['link', 'set', ifname, 'netns', ns]);
    await run('ip', ['-n', ns, 'link', 'set', ifname, 'master', 'br0', 'mtu', '1450', 'up']);
    await run('bridge', ['-n', ns, 'link', 'set', 'dev', ifname, 'hairpin', 'on']);
  }
  namespaceOf(networkId: string): string | undefined {
    return this.#ns.get(networkId);
  }
}

const view: NetworkView = {
  id: 'spnet000000000000000000001',
  name: 'sp-app',
  vni: 4097,
  subnets: [{ subnet: '10.97.1.0/24', gateway: '10.97.1.1' }],
  attachable: false,
  internal: false,
  ingress: false,
  options: {},
  endpoints: [],
  services: [],
};

const view2: NetworkView = {
  ...view,
  id: 'spnet000000000000000000002',
  name: 'sp-db',
  vni: 4098,
  subnets: [{ subnet: '10.97.2.0/24', gateway: '10.97.2.1' }],
};

function assignment(slot: number, address: string, address2?: string): Assignment {
  return {
    serviceName: 'sp-web',
    serviceLabels: {},
    secrets: [],
    configs: [],
    task: {
      ID: `sptask00000000000000000${slot}`,
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Labels: {},
      ServiceID: 'spsvc',
      Slot: slot,
      NodeID: NODE_ID,
      Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
      DesiredState: 'running',
      // The first command's view of its network: printed before anything else runs.
      Spec: {
        ContainerSpec: { Image: 'busybox:local', Command: ['sh', '-c', 'ip addr; exec sleep 300'] },
      },
      NetworksAttachments: [
        {
          Network: { ID: view.id, Spec: { Name: view.name } } as unknown as Network,
          Addresses: [`${address}/24`],
        },
        ...(address2
          ? [
              {
                Network: { ID: view2.id, Spec: { Name: view2.name } } as unknown as Network,
                Addresses: [`${address2}/24`],
              },
            ]
          : []),
      ],
    },
  };
}

let dir = '';
let plugin: PluginServer | undefined;
let networks: EngineNetworks;
let executor: DockerExecutor;
const containers: string[] = [];

before(async () => {
  if (SKIP) return;
  dir = await mkdtemp(join(tmpdir(), 'sp-e2e-'));
  const engine = new EngineApiClient({ host: `unix://${ENGINE}`, timeoutMs: 60_000 });
  const sandboxes = new TestSandboxHost({ [view.id]: NETNS, [view2.id]: NETNS2 });
  // Left by an earlier run that was killed: start clean.
  await quiet(run('ip', ['netns', 'del', NETNS]));
  await quiet(run('ip', ['netns', 'del', NETNS2]));
  plugin = new PluginServer({
    name: 'sp-test',
    sandboxes,
    engine,
    ifPrefix: 'sp',
    log: (m) => console.log(m),
  });
  await plugin.start();
  networks = new EngineNetworks({ engine, driver: 'sp-test' });
  const tn = new ShoalTaskNetworking({
    view: (id) => [view, view2].find((v) => v.id === id),
    networks,
    sandboxes,
  });
  executor = new DockerExecutor({
    engineHost: `unix://${ENGINE}`,
    nodeId: NODE_ID,
    execRoot: dir,
    networking: tn,
  });
});

after(async () => {
  if (SKIP) return;
  for (const c of containers) await quiet(docker('rm', '-f', c));
  const left = (await docker('ps', '-aq', '--filter', `label=com.docker.swarm.node.id=${NODE_ID}`)).trim();
  for (const c of left.split('\n').filter(Boolean)) await quiet(docker('rm', '-f', c));
  await quiet(docker('network', 'rm', 'sp-app'));
  await quiet(docker('network', 'rm', 'sp-db'));
  await quiet(docker('network', 'rm', 'sp-conflict'));
  await quiet(run('ip', ['netns', 'del', NETNS]));
  await quiet(run('ip', ['netns', 'del', NETNS2]));
  await plugin?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test(
  'task containers on a shoal network get the manager addresses, are up before their process, and reach each other and out',
  { skip: SKIP },
  async () => {
    // The first task is on a second network too: connected after create, before start.
    const a = [assignment(1, '10.97.1.11', '10.97.2.11'), assignment(2, '10.97.1.12')];
    for (const as of a) {
      const ctl = executor.controller(as);
      const id = await ctl.prepare();
      containers.push(id);
      await ctl.start();
    }
    const [c1, c2] = containers as [string, string];

    const inspect = JSON.parse(await docker('inspect', c1, c2)) as {
      NetworkSettings: { Networks: Record<string, { IPAddress: string; MacAddress: string }> };
      HostConfig: { Dns: string[] };
    }[];
    assert.equal(inspect[0]!.NetworkSettings.Networks['sp-app']?.IPAddress, '10.97.1.11');
    assert.equal(inspect[0]!.NetworkSettings.Networks['sp-app']?.MacAddress, '02:42:0a:61:01:0b');
    assert.equal(inspect[1]!.NetworkSettings.Networks['sp-app']?.IPAddress, '10.97.1.12');
    assert.equal(inspect[1]!.NetworkSettings.Networks['sp-app']?.MacAddress, '02:42:0a:61:01:0c');
    assert.equal(inspect[0]!.NetworkSettings.Networks['sp-db']?.IPAddress, '10.97.2.11');
    assert.equal(inspect[0]!.NetworkSettings.Networks['sp-db']?.MacAddress, '02:42:0a:61:02:0b');
    assert.equal(inspect[1]!.NetworkSettings.Networks['sp-db'], undefined);
    assert.deepEqual(inspect[0]!.HostConfig.Dns, ['10.97.1.1']);

    // The container's first command already saw its interfaces, up, with their addresses and MTU.
    let first = '';
    for (let i = 0; i < 50 && !first.includes('inet '); i++) {
      first = await docker('logs', c1);
      if (!first.includes('inet ')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(first, /eth0.*<[^>]*\bUP\b[^>]*>.*mtu 1450/);
    assert.match(first, /eth1.*<[^>]*\bUP\b[^>]*>.*mtu 1450/);
    assert.match(first, /link\/ether 02:42:0a:61:01:0b/);
    assert.match(first, /inet 10\.97\.1\.11\/24/);
    assert.match(first, /link\/ether 02:42:0a:61:02:0b/);
    assert.match(first, /inet 10\.97\.2\.11\/24/);

    await docker('exec', c1, 'ping', '-c', '1', '-W', '3', '10.97.1.12');
    await docker('exec', c2, 'ping', '-c', '1', '-W', '3', '10.97.1.11');
    await docker('exec', c1, 'ping', '-c', '1', '-W', '3', '10.97.1.1');
    await docker('exec', c1, 'ping', '-c', '1', '-W', '3', '10.97.2.1');

    // libnetwork gave the container docker_gwbridge for egress, since the plugin names no gateway
    // (as in Swarm, it is not among the container's own networks in its inspect).
    const gw = JSON.parse(await docker('network', 'inspect', 'docker_gwbridge')) as {
      IPAM: { Config: { Gateway: string }[] };
      Containers?: Record<string, unknown>;
    }[];
    assert.ok(gw[0]!.Containers?.[c1], 'the first container is on docker_gwbridge');
    const gwAddr = gw[0]!.IPAM.Config[0]!.Gateway;
    const routes = await docker('exec', c1, 'ip', 'route');
    assert.match(routes, new RegExp(`default via ${gwAddr.replace(/\./g, '\\.')} dev eth\\d`));
    // Outside the overlay: the node's own end of docker_gwbridge (never past this machine).
    await docker('exec', c1, 'ping', '-c', '1', '-W', '3', gwAddr);
  },
);

test(
  "an engine network of that name that is not shoal's is a clear error naming it",
  { skip: SKIP },
  async () => {
    await docker('network', 'create', '--driver', 'bridge', '--subnet', '10.97.9.0/24', 'sp-conflict');
    await assert.rejects(
      networks.ensure({ ...view, id: 'spnet000000000000000000009', name: 'sp-conflict' }),
      /engine already has a network named sp-conflict \(driver bridge\) that is not shoal's/,
    );
  },
);

test(
  'a restarted task container comes back with its address, and the old veth is gone',
  { skip: SKIP },
  async () => {
    const [c1] = containers as [string];
    await docker('restart', '-t', '1', c1);
    const n = JSON.parse(await docker('inspect', c1)) as {
      NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
    }[];
    assert.equal(n[0]!.NetworkSettings.Networks['sp-app']?.IPAddress, '10.97.1.11');
    await docker('exec', c1, 'ping', '-c', '1', '-W', '3', '10.97.1.12');
    // One port per running container on the sandbox bridge, none left in the daemon's namespace.
    const ports = (await run('ip', ['-n', NETNS, '-o', 'link', 'show', 'master', 'br0'])).trim().split('\n');
    assert.equal(ports.length, 2, ports.join('\n'));
    assert.doesNotMatch(await run('ip', ['-o', 'link']), /: sp[ch][0-9a-f]/);
  },
);

test(
  'once no container is on it, an engine network no longer needed is removed',
  { skip: SKIP },
  async () => {
    // Still in use: it stays.
    assert.deepEqual(await networks.prune(new Set()), []);
    for (const c of containers.splice(0)) await docker('rm', '-f', c);
    assert.deepEqual((await networks.prune(new Set())).sort(), ['sp-app', 'sp-db']);
    // Every veth went with its container: nothing on the sandbox bridge, nothing left here.
    assert.equal((await run('ip', ['-n', NETNS, '-o', 'link', 'show', 'master', 'br0'])).trim(), '');
    assert.doesNotMatch(await run('ip', ['-o', 'link']), /: sp[ch][0-9a-f]/);
    await assert.rejects(docker('network', 'inspect', 'sp-app'), /No such network|not found/);
  },
);
