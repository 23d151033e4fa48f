import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeServiceSpec, validateSwarmSpec } from './validate.js';
import { ShoalError } from './errors.js';

const base = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } } };
const bad = (body: unknown, re: RegExp): void =>
  assert.throws(
    () => normalizeServiceSpec(body),
    (e: unknown) => e instanceof ShoalError && e.code === 'InvalidArgument' && re.test(e.message),
  );

test('defaults a swarm manager stores are filled in', () => {
  const s = normalizeServiceSpec(base);
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 1 } });
  assert.equal(s.TaskTemplate?.ContainerSpec?.Isolation, 'default');
  assert.equal(s.TaskTemplate?.Runtime, 'container');
  assert.deepEqual(s.EndpointSpec, { Mode: 'vip' });
});

test('bad specs are refused with a message that names the problem', () => {
  bad({ ...base, Mode: { Replicated: { Replicas: -1 } } }, /replicas must be non-negative, got -1/);
  bad({ ...base, Mode: { Sideways: {} } }, /unknown service mode "Sideways"/);
  bad({ ...base, Mode: { Replicated: {}, Global: {} } }, /exactly one mode/);
  bad(
    { ...base, Mode: { Replicated: { Replicas: '3' } } },
    /cannot unmarshal string into field Mode.Replicated.Replicas/,
  );
  bad({ ...base, Name: 'bad_name!' }, /name must be valid as a DNS name component/);
  bad({ ...base, TaskTemplate: { ContainerSpec: {} } }, /image reference must be provided/);
  bad(
    { ...base, TaskTemplate: { ContainerSpec: { Image: 'x', Env: 'A=1' } } },
    /cannot unmarshal string into field TaskTemplate.ContainerSpec.Env/,
  );
  bad(
    { ...base, TaskTemplate: { ...base.TaskTemplate, Placement: { Constraints: ['node.labels.zone=a'] } } },
    /constraint expected one operator from ==, !=/,
  );
  bad(
    { ...base, UpdateConfig: { FailureAction: 'explode' } },
    /FailureAction must be one of pause, continue, rollback/,
  );
  bad({ ...base, UpdateConfig: { MaxFailureRatio: 2 } }, /MaxFailureRatio must be between 0 and 1/);
  bad([1, 2], /must be a JSON object/);
});

test('a negative task history limit is refused (Docker accepts it)', () => {
  assert.throws(
    () => validateSwarmSpec({ Orchestration: { TaskHistoryRetentionLimit: -5 } }),
    /must be non-negative, got -5/,
  );
  assert.deepEqual(validateSwarmSpec({ Orchestration: { TaskHistoryRetentionLimit: 3 } }).Orchestration, {
    TaskHistoryRetentionLimit: 3,
  });
});
