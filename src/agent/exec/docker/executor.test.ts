import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptions, LABEL } from './executor.js';
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
