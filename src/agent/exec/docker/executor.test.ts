import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptions, DockerExecutor, hostPortStatus, LABEL } from './executor.js';
import type { Assignment } from '../../../api/index.js';

test('the container spec maps onto engine create options with swarm names and labels', () => {
  const a: Assignment = {
    serviceName: 'web',
    serviceLabels: {},
    secrets: [],
    configs: [],
    task: {
      ID: 'taskid0000000000000000001',
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Labels: {},
      ServiceID: 'svc',
      Slot: 3,
      NodeID: 'node1',
      Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
      DesiredState: 'running',
      GenericResources: [{ NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-1' } }],
      Spec: {
        ContainerSpec: {
          Image: 'busybox:local',
          Command: ['sh', '-c'],
          Args: ['echo hi'],
          Env: ['A=1'],
          Dir: '/tmp',
          User: 'nobody',
          Hostname: 'h',
          Labels: { mine: 'yes' },
          Mounts: [
            { Type: 'bind', Source: '/src', Target: '/dst', ReadOnly: true },
            { Type: 'volume', Source: 'vol', Target: '/data' },
            { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1024 } },
          ],
          StopSignal: 'SIGINT',
          StopGracePeriod: 3e9,
          Init: true,
          Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 1e9, Retries: 2 },
        },
        Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 << 20 } },
      },
    },
  };
  const o = createOptions(a, 'node1');
  assert.equal(o.name, 'web.3.taskid0000000000000000001');
  assert.deepEqual(o.Entrypoint, ['sh', '-c']);
  assert.deepEqual(o.Cmd, ['echo hi']);
  assert.deepEqual(o.Env, ['A=1', 'DOCKER_RESOURCE_GPU=GPU-1']);
  assert.equal(o.WorkingDir, '/tmp');
  assert.equal(o.User, 'nobody');
  assert.equal(o.StopSignal, 'SIGINT');
  assert.equal(o.StopTimeout, 3);
  assert.equal(o.Labels![LABEL.node], 'node1');
  assert.equal(o.Labels![LABEL.taskId], 'taskid0000000000000000001');
  assert.equal(o.Labels![LABEL.serviceName], 'web');
  assert.equal(o.Labels!.mine, 'yes');
  assert.equal(o.HostConfig!.Init, true);
  assert.equal(o.HostConfig!.NanoCpus, 5e8);
  assert.equal(o.HostConfig!.Memory, 64 << 20);
  assert.deepEqual(
    o.HostConfig!.RestartPolicy,
    { Name: 'no' },
    'the engine never restarts swarm tasks itself',
  );
  assert.equal(o.HostConfig!.Mounts!.length, 3);
  assert.equal(o.HostConfig!.Mounts![0]!.ReadOnly, true);
  assert.deepEqual(o.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 1e9, Retries: 2 });
});

function netAssignment(nameservers?: string[]): Assignment {
  return {
    serviceName: 'app',
    serviceLabels: {},
    secrets: [],
    configs: [],
    task: {
      ID: 'taskid0000000000000000002',
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Labels: {},
      ServiceID: 'svc',
      Slot: 1,
      NodeID: 'node1',
      Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
      DesiredState: 'running',
      Spec: {
        ContainerSpec: {
          Image: 'busybox:local',
          ...(nameservers ? { DNSConfig: { Nameservers: nameservers } } : {}),
        },
      },
    },
  };
}

const twoNetworks = {
  networkMode: 'front',
  endpoints: {
    front: { IPAMConfig: { IPv4Address: '10.0.1.5' } },
    back: { IPAMConfig: { IPv4Address: '10.0.2.7', IPv6Address: 'fd00::7' } },
  },
  dns: ['10.0.1.1'],
};

test('a task on overlay networks is created on its first network with its address and the network resolver', () => {
  const o = createOptions(netAssignment(), 'node1', [], twoNetworks);
  assert.equal(o.HostConfig?.NetworkMode, 'front');
  // Only the first network at create: the engine takes one endpoint there; the rest are connected.
  assert.deepEqual(o.NetworkingConfig, {
    EndpointsConfig: { front: { IPAMConfig: { IPv4Address: '10.0.1.5' } } },
  });
  assert.deepEqual(o.HostConfig?.Dns, ['10.0.1.1']);
});

test("the service's own nameservers win over the network's resolver", () => {
  const o = createOptions(netAssignment(['192.0.2.53']), 'node1', [], twoNetworks);
  assert.deepEqual(o.HostConfig?.Dns, ['192.0.2.53']);
  assert.equal(o.HostConfig?.NetworkMode, 'front');
});

test('a task without networking keeps the engine defaults', () => {
  const o = createOptions(netAssignment(), 'node1');
  assert.equal(o.HostConfig?.NetworkMode, undefined);
  assert.equal(o.NetworkingConfig, undefined);
  assert.equal(o.HostConfig?.Dns, undefined);
});

test("a network the node cannot carry fails the task's prepare with the data plane's reason, before any engine call", async () => {
  const ex = new DockerExecutor({
    engineHost: 'unix:///nonexistent/sp-no-engine.sock',
    nodeId: 'node1',
    execRoot: '/nonexistent/sp-exec',
    networking: {
      prepare: () =>
        Promise.reject(new Error('this node cannot carry encrypted overlay network secure: no ESP')),
    },
  });
  await assert.rejects(
    ex.controller(netAssignment()).prepare(),
    /cannot carry encrypted overlay network secure/,
  );
});

test("host-mode ports become the engine's port bindings; a port not given is the engine's pick", () => {
  const a = netAssignment();
  a.task = {
    ...a.task,
    HostPorts: [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
      { Protocol: 'tcp', TargetPort: 9000, PublishMode: 'host' },
    ],
  };
  const o = createOptions(a, 'node1');
  assert.deepEqual(o.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '9000/tcp': {} });
  assert.deepEqual(o.HostConfig?.PortBindings, {
    '80/tcp': [{ HostPort: '8080' }],
    '53/udp': [{ HostPort: '5353' }],
    '9000/tcp': [{ HostPort: '' }],
  });
  const none = createOptions(netAssignment(), 'node1');
  assert.equal(none.ExposedPorts, undefined);
  assert.equal(none.HostConfig?.PortBindings, undefined);
});

test("a task's port status is what the engine bound, each port once over IPv4 and IPv6", () => {
  const ports = hostPortStatus({
    Id: 'c',
    State: { Status: 'running', Running: true, Restarting: false, Pid: 1, ExitCode: 0 },
    Config: { Tty: false },
    NetworkSettings: {
      Ports: {
        '9000/tcp': [
          { HostIp: '0.0.0.0', HostPort: '32768' },
          { HostIp: '::', HostPort: '32768' },
        ],
        '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
        '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
        '443/tcp': null,
      },
    },
  });
  assert.deepEqual(ports, [
    { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
    { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' },
    { Protocol: 'tcp', TargetPort: 9000, PublishedPort: 32768, PublishMode: 'host' },
  ]);
});
