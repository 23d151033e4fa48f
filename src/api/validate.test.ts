import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBase64,
  normalizeServiceSpec,
  validateConfigSpec,
  validateSecretSpec,
  validateSwarmSpec,
} from './validate.js';
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

test('an empty update Order, as the docker CLI sends it back for a spec without one, means the default', () => {
  const s = normalizeServiceSpec({
    ...base,
    UpdateConfig: { Parallelism: 1, Order: '' },
    RollbackConfig: { Parallelism: 1, Order: '' },
  });
  assert.deepEqual(s.UpdateConfig, { Parallelism: 1 });
  assert.deepEqual(s.RollbackConfig, { Parallelism: 1 });
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
  bad(
    { ...base, UpdateConfig: { Order: 'sideways' } },
    /UpdateConfig.Order must be one of stop-first, start-first/,
  );
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

test("base64 data decodes as Go does, and fails with Go's offset and no rpc prefix", () => {
  assert.equal(decodeBase64('czNjcjN0').toString(), 's3cr3t');
  assert.equal(decodeBase64('czNj\ncjN0\r\n').toString(), 's3cr3t');
  assert.equal(decodeBase64('YQ==').toString(), 'a');
  assert.equal(decodeBase64('YWI=').toString(), 'ab');
  assert.equal(decodeBase64('').length, 0);
  for (const [input, at] of [
    ['czN!', 3],
    ['czNjc', 4],
    ['czNjcj', 4],
    ['cw=', 3],
    ['cw==x', 4],
    ['c===', 1],
    ['s3cr3t', 4],
  ] as const) {
    assert.throws(
      () => decodeBase64(input),
      (e: unknown) =>
        e instanceof ShoalError &&
        e.code === 'BadParameter' &&
        e.message === `illegal base64 data at input byte ${at}`,
      input,
    );
  }
});

test('secret and config specs: names, sizes and data as swarmkit checks them', () => {
  const b64 = (n: number): string => Buffer.alloc(n, 1).toString('base64');
  assert.deepEqual(validateSecretSpec({ Name: 'app_pw', Data: 'czNj\ncjN0', Extra: 1 }), {
    Name: 'app_pw',
    Labels: {},
    Data: 'czNjcjN0',
  });
  assert.equal(validateSecretSpec({ Name: 'a.b-c_d', Data: b64(512_000 - 1) }).Name, 'a.b-c_d');
  assert.equal(validateConfigSpec({ Name: 'big', Data: b64(512_000) }).Name, 'big');
  const refused = (f: (raw: unknown) => unknown, raw: unknown, msg: string | RegExp): void =>
    assert.throws(
      () => f(raw),
      (e: unknown) =>
        e instanceof ShoalError && (typeof msg === 'string' ? e.message === msg : msg.test(e.message)),
    );
  refused(
    validateSecretSpec,
    { Name: 'x', Data: b64(512_000) },
    'secret data must be larger than 0 and less than 512000 bytes',
  );
  refused(
    validateConfigSpec,
    { Name: 'x', Data: b64(1_024_000) },
    'config data must be larger than 0 and less than 1024000 bytes',
  );
  refused(validateSecretSpec, { Name: 'x' }, 'secret data must be larger than 0 and less than 512000 bytes');
  refused(validateSecretSpec, { Data: 'eA==' }, 'name must be provided');
  for (const name of ['-x', 'x-', 'a b', 'x'.repeat(65), 'é']) {
    refused(
      validateSecretSpec,
      { Name: name, Data: 'eA==' },
      /^invalid name, only 64 \[a-zA-Z0-9-_.\] characters allowed/,
    );
  }
  refused(
    validateSecretSpec,
    { Name: 'x', Data: 'eA==', Labels: { a: 1 } },
    /label Labels.a must be a string/,
  );
  refused(
    validateSecretSpec,
    { Name: 'x', Data: 'eA==', Driver: { Name: 'vault' } },
    /secret drivers are not supported/,
  );
  refused(
    validateConfigSpec,
    { Name: 'x', Data: 'eA==', Templating: { Name: 'golang' } },
    /templated configs are not supported/,
  );
  // A ConfigSpec has no Driver field: Docker's decoder ignores one.
  assert.equal(validateConfigSpec({ Name: 'x', Data: 'eA==', Driver: { Name: 'vault' } }).Name, 'x');
  refused(validateSecretSpec, 'text', /must be a JSON object/);
});
