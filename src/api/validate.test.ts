import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBase64,
  normalizeServiceSpec,
  validateConfigSpec,
  validateSecretSpec,
  validateSwarmSpec,
  validateNetworkSpec,
  validateInitRequest,
  validateJoinRequest,
  validateNodeDescription,
  validateTaskStatus,
  validateTaskId,
  MAX_REPLICAS,
  MAX_TIMER_NS,
  MAX_WORKER_TEXT,
} from './validate/index.js';
import { checkDepth, jsonDepth, MAX_JSON_DEPTH } from './schema.js';
import { ShoalError } from './errors.js';

const base = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } } };
/** Refused by the manager's rules (InvalidArgument), or by decoding as Go would (BadParameter). */
const bad = (
  body: unknown,
  re: RegExp,
  code: 'InvalidArgument' | 'BadParameter' = /cannot unmarshal|into field|of type|must not be null/.test(
    re.source,
  )
    ? 'BadParameter'
    : 'InvalidArgument',
): void =>
  assert.throws(
    () => normalizeServiceSpec(body),
    (e: unknown) => e instanceof ShoalError && e.code === code && re.test(e.message),
  );

test('a spec is stored as sent, plus only what Docker adds to its echo', () => {
  const s = normalizeServiceSpec(base);
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 1 } });
  assert.deepEqual(s.Labels, {});
  assert.equal(s.TaskTemplate?.ContainerSpec?.Isolation, 'default');
  assert.equal(s.TaskTemplate?.Runtime, 'container');
  assert.equal(s.TaskTemplate?.ForceUpdate, 0);
  // No defaults Docker does not echo: Init, DNSConfig, Resources, Placement, an endpoint spec.
  assert.deepEqual(Object.keys(s.TaskTemplate?.ContainerSpec ?? {}).sort(), ['Image', 'Isolation']);
  assert.deepEqual(Object.keys(s.TaskTemplate ?? {}).sort(), ['ContainerSpec', 'ForceUpdate', 'Runtime']);
  assert.equal('EndpointSpec' in s, false);
  // What was sent is echoed: Init false, Limits without Reservations, an endpoint with its mode.
  const sent = normalizeServiceSpec({
    ...base,
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:local', Init: false },
      Resources: { Limits: { MemoryBytes: 1 << 26 } },
      Placement: {},
      Runtime: '',
    },
    EndpointSpec: { Ports: [{ TargetPort: 80 }] },
  });
  assert.equal(sent.TaskTemplate?.ContainerSpec?.Init, false);
  assert.deepEqual(sent.TaskTemplate?.Resources, { Limits: { MemoryBytes: 1 << 26 } });
  assert.deepEqual(sent.TaskTemplate?.Placement, {});
  assert.equal(sent.TaskTemplate?.Runtime, 'container');
  assert.deepEqual(sent.EndpointSpec, {
    Mode: 'vip',
    Ports: [{ TargetPort: 80, Protocol: 'tcp', PublishMode: 'ingress' }],
  });
});

test('an empty update Order, as the docker CLI sends it back for a spec without one, means the default', () => {
  const s = normalizeServiceSpec({
    ...base,
    UpdateConfig: { Parallelism: 1, Order: '' },
    RollbackConfig: { Parallelism: 1, Order: '' },
  });
  assert.deepEqual(s.UpdateConfig, { Parallelism: 1, MaxFailureRatio: 0 });
  assert.deepEqual(s.RollbackConfig, { Parallelism: 1, MaxFailureRatio: 0 });
});

test('an update config sent without Parallelism shows 0, every task at once, as Docker reads it', () => {
  const s = normalizeServiceSpec({ ...base, UpdateConfig: { Monitor: 1e9 } });
  assert.deepEqual(s.UpdateConfig, { Monitor: 1e9, Parallelism: 0, MaxFailureRatio: 0 });
  assert.equal(normalizeServiceSpec(base).UpdateConfig, undefined);
});

test('bad specs are refused with a message that names the problem', () => {
  bad(
    { ...base, Mode: { Replicated: { Replicas: -1 } } },
    /^json: cannot unmarshal number -1 into field Mode.Replicated.Replicas of type uint64$/,
    'BadParameter',
  );
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
  bad([1, 2], /must be a JSON object/, 'BadParameter');
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
    /^json: cannot unmarshal number 1 into field Labels.a of type string$/,
  );
  refused(
    validateSecretSpec,
    { Name: 'x', Data: 'eA==', Driver: { Name: 'vault' } },
    /secret drivers are not supported/,
  );
  // A template driver is kept: the node of each task expands the data.
  assert.deepEqual(
    validateConfigSpec({ Name: 'x', Data: 'eA==', Templating: { Name: 'golang' } }).Templating,
    {
      Name: 'golang',
    },
  );
  assert.deepEqual(
    validateSecretSpec({ Name: 'x', Data: 'eA==', Templating: { Name: 'golang' } }).Templating,
    {
      Name: 'golang',
    },
  );
  // A ConfigSpec has no Driver field: Docker's decoder ignores one.
  assert.equal(validateConfigSpec({ Name: 'x', Data: 'eA==', Driver: { Name: 'vault' } }).Name, 'x');
  refused(validateSecretSpec, 'text', /must be a JSON object/);
});

test('fields that once took any JSON take only their Go type: a deep value is refused or dropped', () => {
  let deepArray: unknown = 1;
  let deepObject: unknown = 1;
  for (let i = 0; i < 2000; i++) {
    deepArray = [deepArray];
    deepObject = { a: deepObject };
  }
  const tt = base.TaskTemplate;
  for (const [where, body] of [
    ['TaskTemplate.PluginSpec', { ...base, TaskTemplate: { ...tt, PluginSpec: deepArray } }],
    [
      'TaskTemplate.NetworkAttachmentSpec',
      { ...base, TaskTemplate: { ...tt, NetworkAttachmentSpec: deepArray } },
    ],
    [
      'TaskTemplate.ContainerSpec.Privileges',
      { ...base, TaskTemplate: { ContainerSpec: { Image: 'x', Privileges: deepArray } } },
    ],
    [
      'TaskTemplate.ContainerSpec.Privileges',
      { ...base, TaskTemplate: { ContainerSpec: { Image: 'x', Privileges: 'x' } } },
    ],
    [
      'TaskTemplate.Resources.Reservations.GenericResources',
      { ...base, TaskTemplate: { ...tt, Resources: { Reservations: { GenericResources: deepObject } } } },
    ],
    [
      'TaskTemplate.ContainerSpec.Mounts[0].BindOptions',
      {
        ...base,
        TaskTemplate: {
          ContainerSpec: {
            Image: 'x',
            Mounts: [{ Type: 'bind', Source: '/a', Target: '/b', BindOptions: [] }],
          },
        },
      },
    ],
    [
      'TaskTemplate.ContainerSpec.Configs[0].Runtime',
      {
        ...base,
        TaskTemplate: { ContainerSpec: { Image: 'x', Configs: [{ ConfigName: 'c', Runtime: deepArray }] } },
      },
    ],
  ] as const)
    bad(
      body,
      new RegExp(
        `cannot unmarshal (array|object|string) into field ${where.replace(/[.[\]]/g, '\\$&')} of type`,
      ),
    );
  // Unknown keys are dropped, as Go drops them: the stored spec holds nothing deep.
  const s = normalizeServiceSpec({ ...base, TaskTemplate: { ...tt, PluginSpec: deepObject } });
  assert.deepEqual(s.TaskTemplate?.PluginSpec, {});
  assert.ok(jsonDepth(s) < 10);
});

test('numbers must fit their Go type, and absurd ones are refused with the documented bound', () => {
  const cs = (extra: Record<string, unknown>): unknown => ({
    ...base,
    TaskTemplate: { ContainerSpec: { Image: 'x', ...extra } },
  });
  bad(
    { ...base, Mode: { Replicated: { Replicas: 1e308 } } },
    /number 1e\+308 into field Mode.Replicated.Replicas of type uint64/,
  );
  bad(
    { ...base, Mode: { Replicated: { Replicas: MAX_REPLICAS + 1 } } },
    /replicas must be at most 200000, got 200001/,
  );
  assert.deepEqual(normalizeServiceSpec({ ...base, Mode: { Replicated: { Replicas: MAX_REPLICAS } } }).Mode, {
    Replicated: { Replicas: MAX_REPLICAS },
  });
  bad(
    { ...base, Mode: { ReplicatedJob: { TotalCompletions: MAX_REPLICAS + 1 } } },
    /TotalCompletions must be at most/,
  );
  bad(
    cs({ StopGracePeriod: 1e308 }),
    /into field TaskTemplate.ContainerSpec.StopGracePeriod of type time.Duration/,
  );
  bad(cs({ StopGracePeriod: 18446744073709552000 }), /of type time.Duration/);
  bad(cs({ StopGracePeriod: 2 ** 63 }), /of type time.Duration/);
  bad(cs({ StopGracePeriod: MAX_TIMER_NS + 1 }), /StopGracePeriod must be at most 7 days/);
  bad(cs({ StopGracePeriod: 1.5 }), /of type time.Duration/);
  bad(cs({ Healthcheck: { Interval: 1e308 } }), /Healthcheck.Interval of type time.Duration/);
  bad(
    { ...base, TaskTemplate: { ...base.TaskTemplate, RestartPolicy: { Delay: 1e308 } } },
    /RestartPolicy.Delay of type/,
  );
  bad(
    { ...base, TaskTemplate: { ...base.TaskTemplate, RestartPolicy: { Window: 8 * 24 * 3600e9 } } },
    /Window must be at most 7 days/,
  );
  bad({ ...base, UpdateConfig: { Delay: 8 * 24 * 3600e9 } }, /UpdateConfig.Delay must be at most 7 days/);
  bad(
    {
      ...base,
      TaskTemplate: { ...base.TaskTemplate, Resources: { Limits: { MemoryBytes: 18446744073709552000 } } },
    },
    /Limits.MemoryBytes of type int64/,
  );
  bad({ ...base, EndpointSpec: { Ports: [{ TargetPort: 2 ** 32 }] } }, /TargetPort of type uint32/);
  // The largest values their types hold are taken.
  const ok = normalizeServiceSpec({
    ...base,
    TaskTemplate: { ...base.TaskTemplate, Resources: { Limits: { MemoryBytes: 2 ** 62 } } },
  });
  assert.equal(ok.TaskTemplate?.Resources?.Limits?.MemoryBytes, 2 ** 62);
});

test('the swarm spec: Go ranges, heartbeat and certificate bounds, no external CA (init and update alike)', () => {
  const refused = (raw: unknown, re: RegExp): void =>
    assert.throws(
      () => validateSwarmSpec(raw),
      (e: unknown) => e instanceof ShoalError && re.test(e.message),
    );
  refused({ Dispatcher: { HeartbeatPeriod: 1e308 } }, /HeartbeatPeriod of type time.Duration/);
  refused({ Dispatcher: { HeartbeatPeriod: 7200e9 } }, /heartbeat period must be between 50ms and 1h/);
  refused({ Dispatcher: { HeartbeatPeriod: 1 } }, /heartbeat period must be between 50ms and 1h/);
  assert.equal(validateSwarmSpec({ Dispatcher: { HeartbeatPeriod: 5e9 } }).Dispatcher?.HeartbeatPeriod, 5e9);
  refused({ CAConfig: { NodeCertExpiry: 1e308 } }, /NodeCertExpiry of type time.Duration/);
  refused({ CAConfig: { NodeCertExpiry: 2 ** 62 } }, /certificate expiry must be at most 20 years/);
  refused({ Raft: { SnapshotInterval: 18446744073709552000 } }, /SnapshotInterval of type uint64/);
  refused({ Raft: { ElectionTick: -1 } }, /Raft.ElectionTick must be non-negative/);
  refused(
    { Orchestration: { TaskHistoryRetentionLimit: 1e6 } },
    /task history retention limit must be at most 1000/,
  );
  refused(
    { CAConfig: { ExternalCAs: [{ Protocol: 'cfssl', URL: 'https://ca' }] } },
    /--external-ca are not supported/,
  );
  refused({ CAConfig: { ExternalCAs: [null] } }, /ExternalCAs\[0\] must not be null/);
  refused({ CAConfig: { SigningCACert: 'x' } }, /--ca-cert, --ca-key and --external-ca are not supported/);
  refused({ CAConfig: { ExternalCAs: 'x' } }, /cannot unmarshal string into field CAConfig.ExternalCAs/);
});

test('nulls in arrays and maps are refused, naming the item', () => {
  bad(
    { ...base, TaskTemplate: { ContainerSpec: { Image: 'x', Secrets: [null] } } },
    /ContainerSpec.Secrets\[0\] must not be null/,
    'BadParameter',
  );
  bad(
    { ...base, TaskTemplate: { ...base.TaskTemplate, Placement: { Constraints: [null] } } },
    /Constraints\[0\] must not be null/,
    'BadParameter',
  );
  bad(
    { ...base, TaskTemplate: { ...base.TaskTemplate, Networks: [null] } },
    /Networks\[0\] must not be null/,
    'BadParameter',
  );
  bad({ ...base, Labels: { a: null } }, /Labels.a must not be null/, 'BadParameter');
  assert.throws(
    () => validateNetworkSpec({ Name: 'n', IPAM: { Config: [null] } }),
    /IPAM.Config\[0\] must not be null/,
  );
});

test('network names are validated as swarmkit validates them', () => {
  for (const name of ['x'.repeat(70_000), 'a\u0000b', '\u001b[31mred', 'a.b', 'x'.repeat(64)])
    assert.throws(() => validateNetworkSpec({ Name: name }), /name must be valid as a DNS name component/);
  assert.equal(validateNetworkSpec({ Name: 'app_net-1' }).Name, 'app_net-1');
});

test('swarm init and join: addresses and tokens are checked before anything is done', () => {
  assert.throws(
    () => validateInitRequest({ ListenAddr: 123 }),
    /cannot unmarshal number 123 into field ListenAddr of type string/,
  );
  assert.throws(() => validateInitRequest({ AdvertiseAddr: '\u001b[31m' }), /invalid AdvertiseAddr/);
  assert.throws(() => validateInitRequest({ ListenAddr: '0.0.0.0:99999' }), /invalid ListenAddr/);
  assert.throws(() => validateInitRequest({ Spec: { CAConfig: { SigningCACert: 'x' } } }), /not supported/);
  assert.deepEqual(validateInitRequest({ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: 'eth0' }), {
    ListenAddr: '0.0.0.0:2377',
    AdvertiseAddr: 'eth0',
    network: { SubnetSize: 24, DataPathPort: 4789 },
  });
  // The overlay pools and VXLAN port, with dockerd's checks: a CLI sends SubnetSize 24 and
  // DataPathPort 0 when the flags are not given, which mean the defaults.
  assert.deepEqual(
    validateInitRequest({ DefaultAddrPool: ['10.9.1.7/16'], SubnetSize: 0, DataPathPort: 0 }).network,
    { DefaultAddrPool: ['10.9.1.7/16'], SubnetSize: 24, DataPathPort: 4789 },
  );
  assert.deepEqual(validateInitRequest({ SubnetSize: 30, DataPathPort: 1024 }).network, {
    SubnetSize: 24,
    DataPathPort: 1024,
  });
  assert.throws(
    () => validateInitRequest({ DataPathPort: 1023 }),
    /^ShoalError: Datapath port number is not in valid range \(1024-49151\) : 1023$/,
  );
  assert.throws(
    () => validateInitRequest({ DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 7 }),
    /Subnet size is too small for pool: 7/,
  );
  const join = { RemoteAddrs: ['10.0.0.1:2377'], JoinToken: 'SWMTKN-1-abc' };
  assert.equal(validateJoinRequest(join).JoinToken, 'SWMTKN-1-abc');
  assert.throws(
    () => validateJoinRequest({ ...join, AdvertiseAddr: 'h'.repeat(1 << 20) }),
    /invalid AdvertiseAddr/,
  );
  assert.throws(() => validateJoinRequest({ ...join, RemoteAddrs: ['a b'] }), /invalid RemoteAddr/);
  assert.throws(() => validateJoinRequest({ ...join, RemoteAddrs: [] }), /at least 1 RemoteAddr/);
  assert.throws(() => validateJoinRequest({ ...join, JoinToken: 'x\u0000' }), /invalid join token/);
  assert.throws(() => validateJoinRequest({ ...join, Availability: 'gone' }), /Availability must be one of/);
});

test("what a worker sends is checked as API input is: its description and its tasks' status", () => {
  const desc = {
    Hostname: 'w1',
    Platform: { Architecture: 'x86_64', OS: 'linux' },
    Resources: { NanoCPUs: 2e9, MemoryBytes: 1 << 30 },
    Engine: { EngineVersion: '20.10', Labels: { a: 'b' } },
  };
  assert.equal(validateNodeDescription(desc).Hostname, 'w1');
  assert.throws(
    () => validateNodeDescription({ ...desc, Hostname: 'h'.repeat(1 << 20) }),
    /hostname must be 1 to 253/,
  );
  assert.throws(
    () => validateNodeDescription({ ...desc, Hostname: 'a\u001bb' }),
    /hostname must be 1 to 253/,
  );
  assert.throws(
    () => validateNodeDescription({ ...desc, Resources: { MemoryBytes: 1e308 } }),
    /of type int64/,
  );
  assert.throws(
    () => validateNodeDescription({ ...desc, Engine: { Labels: { a: 1 } } }),
    /Engine.Labels.a of type string/,
  );
  assert.throws(() => validateNodeDescription(null), /must be a JSON object/);
  const st = { Timestamp: '2026-12-02T03:00:00.123456789Z', State: 'running', Message: 'started' };
  assert.equal(validateTaskStatus(st).State, 'running');
  assert.throws(() => validateTaskStatus({ ...st, State: 'exploded' }), /unknown task state "exploded"/);
  assert.throws(() => validateTaskStatus({ ...st, Timestamp: 'yesterday' }), /RFC 3339/);
  assert.throws(() => validateTaskStatus({ ...st, Message: 'm'.repeat(MAX_WORKER_TEXT + 1) }), /longer than/);
  assert.throws(
    () => validateTaskStatus({ ...st, ContainerStatus: { ExitCode: 1e308 } }),
    /ExitCode of type int64/,
  );
  assert.throws(() => validateTaskStatus({ ...st, Message: ['x'] }), /Message of type string/);
  assert.throws(() => validateTaskId('../x'), /no valid task ID/);
});

test('JSON depth is measured without recursion, so any depth can be refused', () => {
  let v: unknown = 0;
  for (let i = 0; i < 200_000; i++) v = [v];
  assert.equal(jsonDepth(v, MAX_JSON_DEPTH), MAX_JSON_DEPTH + 1);
  assert.throws(() => checkDepth(v), /nested deeper than 64 levels/);
  assert.doesNotThrow(() => checkDepth({ a: [{ b: 1 }] }));
});

test("JSON keys match fields as Go's decoder matches them: exact, else ignoring case, the last key winning", () => {
  // docker-py's services.create(mode='global') and Service.scale() send lower-case keys.
  const spec = normalizeServiceSpec({
    name: 'web',
    mode: { global: {} },
    taskTemplate: { containerSpec: { image: 'busybox:local', args: ['true'] } },
  });
  assert.equal(spec.Name, 'web');
  assert.deepEqual(spec.Mode, { Global: {} });
  assert.equal(spec.TaskTemplate?.ContainerSpec?.Image, 'busybox:local');
  assert.deepEqual(spec.TaskTemplate?.ContainerSpec?.Args, ['true']);
  const scaled = normalizeServiceSpec({
    Name: 'web',
    Mode: { replicated: { replicas: 3 } },
    TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } },
  });
  assert.deepEqual(scaled.Mode, { Replicated: { Replicas: 3 } });
  // Two keys for one field: the later one wins, whichever is the exact name.
  const base = { TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } } };
  assert.equal(normalizeServiceSpec({ ...base, Name: 'a', name: 'b' }).Name, 'b');
  assert.equal(normalizeServiceSpec({ ...base, name: 'b', Name: 'a' }).Name, 'a');
  // Labels are a map: their keys keep their case.
  assert.deepEqual(normalizeServiceSpec({ ...base, Name: 'x', labels: { Tier: 'Web' } }).Labels, {
    Tier: 'Web',
  });
  // A mode no casing of which is known is still refused by name.
  assert.throws(
    () => normalizeServiceSpec({ ...base, Name: 'x', Mode: { globull: {} } }),
    /unknown service mode "globull"/,
  );
  // The init request's Spec, read apart from the rest, follows the same rule.
  assert.equal(
    validateInitRequest({ spec: { Orchestration: { TaskHistoryRetentionLimit: 3 } } }).Spec?.Orchestration
      ?.TaskHistoryRetentionLimit,
    3,
  );
});
