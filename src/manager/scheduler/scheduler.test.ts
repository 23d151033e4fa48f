import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scheduleTasks } from './scheduler.js';
import type { GenericResource, Node, Task } from '../../api/index.js';

function node(
  id: string,
  o: {
    labels?: Record<string, string>;
    availability?: 'active' | 'pause' | 'drain';
    state?: 'ready' | 'down';
    mem?: number;
    cpu?: number;
  } = {},
): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'worker', Availability: o.availability ?? 'active', Labels: o.labels ?? {} },
    Description: {
      Hostname: id,
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: o.cpu ?? 2e9, MemoryBytes: o.mem ?? 1e9 },
      Engine: { EngineVersion: 'x' },
    },
    Status: { State: o.state ?? 'ready', Addr: '127.0.0.1' },
  };
}

function pending(
  id: string,
  o: { service?: string; constraints?: string[]; mem?: number; maxReplicas?: number; spread?: string } = {},
): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    ServiceID: o.service ?? 'svc',
    Spec: {
      ContainerSpec: { Image: 'x' },
      Placement: {
        ...(o.constraints ? { Constraints: o.constraints } : {}),
        ...(o.maxReplicas ? { MaxReplicas: o.maxReplicas } : {}),
        ...(o.spread ? { Preferences: [{ Spread: { SpreadDescriptor: o.spread } }] } : {}),
      },
      Resources: { Reservations: o.mem ? { MemoryBytes: o.mem } : {} },
    },
    Status: { Timestamp: '', State: 'pending', Message: '', PortStatus: {} },
    DesiredState: 'running',
  };
}

test('a task that fits nowhere stays pending with a reason per filter, most rejections first', () => {
  const nodes = [node('n1', { availability: 'drain' }), node('n2', { mem: 100 }), node('n3', { mem: 100 })];
  const [d] = scheduleTasks([pending('t1', { mem: 1000 })], nodes, []);
  assert.equal(d!.nodeId, undefined);
  assert.equal(
    d!.reason,
    'no suitable node (insufficient resources on 2 nodes; 1 node not available for new tasks)',
  );
  const [none] = scheduleTasks([pending('t2')], [], []);
  assert.equal(none!.reason, 'no suitable node', 'Swarm says no more with no nodes at all');
});

test('constraints on labels, role and hostname select nodes', () => {
  const nodes = [node('n1', { labels: { zone: 'a' } }), node('n2', { labels: { zone: 'b' } })];
  const ds = scheduleTasks(
    [
      pending('t1', { constraints: ['node.labels.zone==b'] }),
      pending('t2', { constraints: ['node.hostname!=n2'] }),
    ],
    nodes,
    [],
  );
  assert.deepEqual(
    ds.map((d) => d.nodeId),
    ['n2', 'n1'],
  );
  const [none] = scheduleTasks([pending('t3', { constraints: ['node.labels.zone==c'] })], nodes, []);
  assert.equal(none!.reason, 'no suitable node (scheduling constraints not satisfied on 2 nodes)');
});

test('constraints on node ID, role, platform and engine labels select nodes', () => {
  const mgr = node('m1');
  mgr.Spec.Role = 'manager';
  const arm = node('w-arm');
  arm.Description.Platform = { OS: 'linux', Architecture: 'aarch64' };
  const ssd = node('w-ssd');
  ssd.Description.Engine.Labels = { storage: 'ssd' };
  const nodes = [mgr, arm, ssd];
  const place = (constraints: string[]): string | undefined =>
    scheduleTasks([pending('t', { constraints })], nodes, [])[0]!.nodeId;
  assert.equal(place(['node.id==w-arm']), 'w-arm');
  assert.equal(place(['node.role==manager']), 'm1');
  assert.equal(place(['node.role == MANAGER']), 'm1', 'node.* values compare without case');
  assert.equal(place(['node.platform.arch==aarch64']), 'w-arm');
  assert.equal(place(['engine.labels.storage==ssd']), 'w-ssd');
  assert.equal(place(['engine.labels.storage==SSD']), undefined, 'labels compare exactly');
  assert.equal(place(['node.role!=manager', 'node.platform.arch!=aarch64']), 'w-ssd');
  const [none] = scheduleTasks([pending('t', { constraints: ['node.platform.os==windows'] })], nodes, []);
  assert.equal(none!.reason, 'no suitable node (scheduling constraints not satisfied on 3 nodes)');
});

test('CPU reservations are counted against node capacity and explained', () => {
  const cpuTask = (id: string): Task => {
    const t = pending(id);
    t.Spec.Resources = { Reservations: { NanoCPUs: 1.5e9 } };
    return t;
  };
  const nodes = [node('n1', { cpu: 2e9 }), node('n2', { cpu: 4e9 })];
  const ds = scheduleTasks([cpuTask('t1'), cpuTask('t2'), cpuTask('t3'), cpuTask('t4')], nodes, []);
  const placed = ds.filter((d) => d.nodeId);
  assert.equal(placed.length, 3, 'one on the 2-CPU node, two on the 4-CPU node');
  assert.equal(placed.filter((d) => d.nodeId === 'n2').length, 2);
  assert.equal(ds[3]!.reason, 'no suitable node (insufficient resources on 2 nodes)');
});

test('spread placement preference balances over label values before nodes', () => {
  const nodes = [
    node('a1', { labels: { dc: 'a' } }),
    node('a2', { labels: { dc: 'a' } }),
    node('b1', { labels: { dc: 'b' } }),
  ];
  const ds = scheduleTasks(
    Array.from({ length: 4 }, (_, i) => pending(`t${i}`, { spread: 'node.labels.dc' })),
    nodes,
    [],
  );
  const perDc = { a: 0, b: 0 };
  for (const d of ds) perDc[d.nodeId!.startsWith('a') ? 'a' : 'b']++;
  assert.deepEqual(perDc, { a: 2, b: 2 });
});

test('spread over a label: nodes without it are one group; other descriptors spread over nothing', () => {
  const nodes = [node('a1', { labels: { dc: 'a' } }), node('x1'), node('x2')];
  const ds = scheduleTasks(
    Array.from({ length: 4 }, (_, i) => pending(`t${i}`, { spread: 'Node.Labels.dc' })),
    nodes,
    [],
  );
  const onA = ds.filter((d) => d.nodeId === 'a1').length;
  assert.equal(onA, 2, 'the unlabelled nodes share half, as the group ""');
  // node.hostname is kept by Docker but not spread over: the default spread decides.
  const ignored = scheduleTasks(
    Array.from({ length: 3 }, (_, i) => pending(`u${i}`, { spread: 'node.hostname' })),
    nodes,
    [],
  );
  assert.deepEqual(ignored.map((d) => d.nodeId).sort(), ['a1', 'x1', 'x2']);
});

function gpuNode(id: string, gpus: GenericResource[]): Node {
  const n = node(id);
  n.Description.Resources.GenericResources = gpus;
  return n;
}
function gpuTask(id: string, count: number): Task {
  const t = pending(id);
  t.Spec.Resources = {
    Reservations: { GenericResources: [{ DiscreteResourceSpec: { Kind: 'gpu', Value: count } }] },
  };
  return t;
}

test('generic resources are reservations: counts are used up and named items handed out', () => {
  const nodes = [
    gpuNode('count', [{ DiscreteResourceSpec: { Kind: 'gpu', Value: 2 } }]),
    gpuNode('named', [
      { NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-a' } },
      { NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-b' } },
    ]),
    node('plain'),
  ];
  const ds = scheduleTasks(
    [gpuTask('t1', 1), gpuTask('t2', 1), gpuTask('t3', 2), gpuTask('t4', 1), gpuTask('t5', 1)],
    nodes,
    [],
  );
  assert.deepEqual(
    ds.map((d) => d.nodeId),
    ['count', 'named', undefined, 'count', 'named'],
    'two gpus at once fit nowhere after the first two; then the last ones go',
  );
  assert.deepEqual(ds[1]!.generic, [{ NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-a' } }]);
  assert.deepEqual(ds[3]!.generic, [{ DiscreteResourceSpec: { Kind: 'gpu', Value: 1 } }]);
  assert.equal(ds[2]!.reason, 'no suitable node (insufficient resources on 3 nodes)');

  // Placed tasks hold what they were given: GPU-a is taken, GPU-b is free.
  const placed = { ...gpuTask('held', 1), NodeID: 'named', GenericResources: ds[1]!.generic! };
  placed.Status = { ...placed.Status, State: 'running' };
  const [next] = scheduleTasks([gpuTask('t5', 1)], [nodes[1]!], [placed]);
  assert.deepEqual(next!.generic, [{ NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-b' } }]);
  const [more] = scheduleTasks([gpuTask('t6', 2)], [nodes[1]!], [placed]);
  assert.equal(more!.reason, 'no suitable node (insufficient resources on 1 node)');

  // A task being stopped (scale-down, update) holds its GPU until its container is gone.
  const stopping = { ...placed, DesiredState: 'shutdown' as const };
  const [meanwhile] = scheduleTasks([gpuTask('t7', 1)], [nodes[1]!], [stopping]);
  assert.deepEqual(meanwhile!.generic, [{ NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-b' } }]);
  const gone = { ...stopping, Status: { ...stopping.Status, State: 'shutdown' as const } };
  const [after] = scheduleTasks([gpuTask('t8', 2)], [nodes[1]!], [gone]);
  assert.equal(after!.generic?.length, 2, 'both free once it has stopped');
});

test('a global task on a node without the resource gets the bare reason', () => {
  const t = { ...gpuTask('g', 1), NodeID: 'plain' };
  const [d] = scheduleTasks([t], [node('plain')], []);
  assert.equal(d!.reason, 'insufficient resources on 1 node');
});

test('max replicas per node is honoured and explained', () => {
  const nodes = [node('n1'), node('n2')];
  const ds = scheduleTasks(
    Array.from({ length: 3 }, (_, i) => pending(`t${i}`, { maxReplicas: 1 })),
    nodes,
    [],
  );
  assert.equal(ds.filter((d) => d.nodeId).length, 2);
  assert.equal(ds[2]!.reason, 'no suitable node (max replicas per node limit exceed)');
});

test('property: tasks spread evenly, never exceed memory, never land on unavailable nodes', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          avail: fc.constantFrom('active', 'active', 'drain', 'pause'),
          down: fc.boolean(),
          mem: fc.integer({ min: 0, max: 10 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 3 }),
      (specs, count, memEach) => {
        const nodes = specs.map((s, i) =>
          node(`n${i}`, { availability: s.avail as 'active', state: s.down ? 'down' : 'ready', mem: s.mem }),
        );
        const tasks = Array.from({ length: count }, (_, i) => pending(`t${i}`, { mem: memEach }));
        const ds = scheduleTasks(tasks, nodes, []);
        const perNode = new Map<string, number>();
        for (const d of ds) {
          if (!d.nodeId) {
            assert.ok(d.reason?.startsWith('no suitable node'));
            continue;
          }
          const n = nodes.find((x) => x.ID === d.nodeId)!;
          assert.equal(n.Spec.Availability, 'active');
          assert.equal(n.Status.State, 'ready');
          perNode.set(d.nodeId, (perNode.get(d.nodeId) ?? 0) + 1);
        }
        for (const [id, k] of perNode)
          assert.ok(k * memEach <= nodes.find((x) => x.ID === id)!.Description.Resources.MemoryBytes);
        if (memEach === 0 && perNode.size > 0) {
          const usable = nodes.filter(
            (n) => n.Spec.Availability === 'active' && n.Status.State === 'ready',
          ).length;
          const counts = nodes
            .filter((n) => n.Spec.Availability === 'active' && n.Status.State === 'ready')
            .map((n) => perNode.get(n.ID) ?? 0);
          assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, 'spread differs by at most one');
          assert.equal(
            counts.reduce((a, b) => a + b, 0),
            usable > 0 ? count : 0,
          );
        }
      },
    ),
    { seed: 42, numRuns: 300 },
  );
});

const hostPort = (t: Task, published: number, protocol: 'tcp' | 'udp' = 'tcp'): Task => ({
  ...t,
  HostPorts: [{ Protocol: protocol, TargetPort: 80, PublishedPort: published, PublishMode: 'host' }],
});

test('host-mode ports keep tasks wanting one port apart, placed or pending, and say why', () => {
  const nodes = [node('n1'), node('n2')];
  const running = {
    ...hostPort(pending('r1'), 8080),
    NodeID: 'n1',
    Status: { ...pending('r1').Status, State: 'running' as const },
  };
  // One task already binds 8080 on n1: the next goes to n2 whatever the spread says.
  const [a] = scheduleTasks([hostPort(pending('t1', { service: 'other' }), 8080)], nodes, [running]);
  assert.equal(a!.nodeId, 'n2');
  // Two pending in one pass take both nodes; a third finds none.
  const ds = scheduleTasks(
    [hostPort(pending('t2'), 9090), hostPort(pending('t3'), 9090), hostPort(pending('t4'), 9090)],
    nodes,
    [],
  );
  assert.deepEqual(
    ds.map((d) => d.nodeId),
    ['n1', 'n2', undefined],
  );
  assert.equal(ds[2]!.reason, 'no suitable node (host-mode port already in use on 2 nodes)');
  // Another protocol, or a port the engine picks (0), is no conflict.
  const [udp] = scheduleTasks([hostPort(pending('t5'), 8080, 'udp')], [node('n1')], [running]);
  assert.equal(udp!.nodeId, 'n1');
  const [any] = scheduleTasks([hostPort(pending('t6'), 0)], [node('n1')], [running]);
  assert.equal(any!.nodeId, 'n1');
  // A task being stopped still holds its port until its container is gone; a finished one does not.
  const stopping = { ...running, DesiredState: 'shutdown' as const };
  const [held] = scheduleTasks([hostPort(pending('t7'), 8080)], [node('n1')], [stopping]);
  assert.equal(held!.reason, 'no suitable node (host-mode port already in use on 1 node)');
  const done = { ...running, Status: { ...running.Status, State: 'shutdown' as const } };
  const [freed] = scheduleTasks([hostPort(pending('t8'), 8080)], [node('n1')], [done]);
  assert.equal(freed!.nodeId, 'n1');
});
