import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptions } from './executor.js';
import type { ContainerSpec, NodeAssignment } from '../../../api/index.js';

function assignment(cs: ContainerSpec, slot: number | undefined): NodeAssignment {
  return {
    serviceName: 'web',
    serviceLabels: { tier: 'front' },
    secrets: [],
    configs: [],
    node: { ID: 'node1', Hostname: 'host-a', Platform: { Architecture: 'x86_64', OS: 'linux' } },
    task: {
      ID: 'taskid0000000000000000001',
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Labels: {},
      ServiceID: 'svc1',
      ...(slot !== undefined ? { Slot: slot } : {}),
      NodeID: 'node1',
      Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
      DesiredState: 'running',
      Spec: { ContainerSpec: cs },
    },
  };
}

test('hostname, env and mounts reach the engine expanded for the task and node', () => {
  const o = createOptions(
    assignment(
      {
        Image: 'busybox:local',
        Hostname: '{{.Node.Hostname}}-{{.Task.Slot}}',
        Env: [
          'SVC={{.Service.Name}}/{{.Service.ID}}',
          'TASK={{.Task.Name}}',
          'OS={{.Node.Platform.OS}}',
          'L={{.Service.Labels}}',
          'KEEP',
        ],
        Mounts: [
          { Type: 'volume', Source: 'data-{{.Task.Slot}}', Target: '/data/{{.Service.Name}}' },
          { Type: 'bind', Source: '/srv/{{.Node.ID}}', Target: '/srv' },
        ],
        Args: ['{{.Service.Name}}'],
      },
      3,
    ),
    'node1',
  );
  assert.equal(o.Hostname, 'host-a-3');
  assert.deepEqual(o.Env, [
    'SVC=web/svc1',
    'TASK=web.3.taskid0000000000000000001',
    'OS=linux',
    'L=map[tier:front]',
    'KEEP',
  ]);
  assert.deepEqual(
    o.HostConfig!.Mounts!.map((m) => [m.Source, m.Target]),
    [
      ['data-3', '/data/web'],
      ['/srv/node1', '/srv'],
    ],
  );
  assert.deepEqual(o.Cmd, ['{{.Service.Name}}'], 'only the fields swarm expands are expanded');
});

test('a task without a slot (global) uses its node ID as the slot', () => {
  const o = createOptions(
    assignment({ Image: 'busybox:local', Hostname: '{{.Task.Slot}}' }, undefined),
    'node1',
  );
  assert.equal(o.Hostname, 'node1');
});

test('a template that fails for this task stops the container create with swarmkit words', () => {
  assert.throws(
    () =>
      createOptions(
        assignment({ Image: 'busybox:local', Hostname: '{{index .Node.Hostname 40}}' }, 1),
        'node1',
      ),
    {
      message:
        'expanding hostname failed: template: expansion:1:2: executing "expansion" at <index .Node.Hostname...>: error calling index: index out of range: 40',
    },
  );
});
