import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze } from '../../state/index.js';
import type { Service, Task } from '../../api/index.js';
import { isTaskDirty, sameJson, sameTemplate, updateConfig } from './tasks.js';

const service = (template: object): Service =>
  deepFreeze({ ID: 's1', Spec: { Name: 'web', TaskTemplate: template }, Endpoint: {} }) as unknown as Service;
const task = (spec: object): Task =>
  deepFreeze({ ID: 't1', ServiceID: 's1', Spec: spec, Status: { State: 'running' } }) as unknown as Task;

test('sameJson ignores key order and undefined members', () => {
  assert.ok(sameJson({ a: 1, b: [1, { c: 2, d: undefined }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(!sameJson({ a: 1 }, { a: 2 }));
});

test('isTaskDirty follows the service from template to template with frozen (stored) objects', () => {
  const t = task({ ContainerSpec: { Image: 'busybox:local', Env: ['A=1'] } });
  const v1 = service({ ContainerSpec: { Env: ['A=1'], Image: 'busybox:local' } });
  const v2 = service({ ContainerSpec: { Image: 'busybox:local', Env: ['A=2'] } });
  assert.equal(isTaskDirty(v1, t), false);
  assert.equal(isTaskDirty(v1, t), false, 'asked again');
  assert.equal(isTaskDirty(v2, t), true, 'a new template');
  assert.equal(isTaskDirty(v1, t), false, 'a rollback to an equal template');
  assert.equal(isTaskDirty(v2, t), true);
});

test('isTaskDirty with objects that are not frozen (inside a transaction)', () => {
  const spec = { ContainerSpec: { Image: 'busybox:local' } };
  const t = { ID: 't2', ServiceID: 's2', Spec: spec, Status: { State: 'running' } } as unknown as Task;
  const s = {
    ID: 's2',
    Spec: { Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } } },
    Endpoint: {},
  };
  assert.equal(isTaskDirty(s as unknown as Service, t), false);
  spec.ContainerSpec.Image = 'other';
  assert.equal(isTaskDirty(s as unknown as Service, t), true, 'a mutable spec is compared afresh');
  assert.equal(
    isTaskDirty({ ID: 's3', Spec: { Name: 'y' }, Endpoint: {} } as unknown as Service, task({})),
    false,
  );
});

test('a stored update config without Parallelism (kept from before the API filled in 0) stays one at a time', () => {
  assert.equal(updateConfig(undefined).Parallelism, 1);
  assert.equal(updateConfig({ Monitor: 1e9 }).Parallelism, 1);
  assert.equal(updateConfig({ Parallelism: 0 }).Parallelism, 0);
  assert.equal(updateConfig({ Parallelism: 2 }).Parallelism, 2);
});

test('the empty defaults stored before specs were kept as sent change no task (an upgrade restarts nothing)', () => {
  const old = {
    ContainerSpec: { Image: 'busybox:local', Init: false, DNSConfig: {} },
    Resources: { Limits: {}, Reservations: {} },
    Placement: {},
    RestartPolicy: { Condition: 'any' },
  };
  const now = { ContainerSpec: { Image: 'busybox:local' }, RestartPolicy: { Condition: 'any' } };
  assert.ok(sameTemplate(old, now));
  assert.equal(isTaskDirty(service(now), task(old)), false);
  assert.equal(isTaskDirty(service(old), task(now)), false);
  // What does run differently still counts.
  const limited = { ...now, Resources: { Limits: { MemoryBytes: 1 << 20 } } };
  assert.equal(isTaskDirty(service(limited), task(old)), true);
  assert.ok(!sameTemplate(old, { ...now, ContainerSpec: { Image: 'busybox:local', Init: true } }));
});

test('a task is dirty when its published ports differ from its service: host-mode bindings, joining ingress', () => {
  const tpl = { ContainerSpec: { Image: 'busybox:local' } };
  const host = { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' } as const;
  const ingress = { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'ingress' } as const;
  const svc = (ports: object[]): Service =>
    ({
      ID: 's1',
      Spec: { Name: 'web', TaskTemplate: tpl },
      Endpoint: { Ports: ports },
    }) as unknown as Service;
  const t = (state: string, extra: object = {}): Task =>
    ({ ID: 't1', ServiceID: 's1', Spec: tpl, Status: { State: state }, ...extra }) as unknown as Task;
  const onIngress = { NetworksAttachments: [{ Network: { Spec: { Ingress: true } }, Addresses: [] }] };
  assert.equal(isTaskDirty(svc([]), t('running')), false);
  assert.equal(isTaskDirty(svc([host]), t('running')), true, 'a host port to bind');
  assert.equal(isTaskDirty(svc([host]), t('running', { HostPorts: [host] })), false);
  assert.equal(isTaskDirty(svc([]), t('running', { HostPorts: [host] })), true, 'a host port to free');
  assert.equal(isTaskDirty(svc([ingress]), t('running')), true, 'ingress to join');
  assert.equal(isTaskDirty(svc([ingress]), t('running', onIngress)), false);
  assert.equal(isTaskDirty(svc([]), t('running', onIngress)), true, 'ingress to leave');
  assert.equal(
    isTaskDirty(svc([host, ingress]), t('new')),
    false,
    'a NEW task is allocated as the service is',
  );
});
