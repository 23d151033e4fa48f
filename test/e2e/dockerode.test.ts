// End to end: dockerode (the Node SDK) against shoald, which drives the real dockerd. dockerode
// sends what SDK users write: for POSTs whose path ends in "?" (swarm, node, service, secret and
// config updates, secret/config/network create) the same options go both in the query string
// (objects as JSON) and in the body, so the extra query parameters and the `version` field in the
// body must be ignored as dockerd ignores them. Needs dockerd and busybox:local (.ci/run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Shoald, engine, waitFor } from '../support/shoald.js';
import { demux } from '../support/stdcopy.js';

const IMAGE = 'busybox:local';
/** A second name for the same local image, so an update can change the image without a pull. */
const IMAGE_B = 'busybox:dockerode-b';

let dir = '';
let node: Shoald;
let d: Docker;

interface SdkError {
  statusCode?: number;
  json?: { message?: unknown } | null;
}

/** The error a dockerode call rejects with, which must carry Docker's status and message. */
async function sdkError(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as SdkError;
    assert.equal(typeof err.json?.message, 'string', `a {"message"} body, got ${JSON.stringify(err.json)}`);
    return { status: err.statusCode ?? 0, message: err.json!.message as string };
  }
  assert.fail('the call succeeded');
}

const until = (what: string, cond: () => Promise<boolean>, ms = 40_000): Promise<void> =>
  waitFor(what, cond, ms, 200).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n--- shoald log ---\n${node.log.slice(-3000)}`);
  });

interface TaskInfo {
  ID: string;
  Status: { State: string };
  Spec: { ContainerSpec: { Image: string } };
}

async function runningTasks(service: string): Promise<TaskInfo[]> {
  const tasks = (await d.listTasks({
    filters: { service: [service], 'desired-state': ['running'] },
  } as object)) as unknown as TaskInfo[];
  return tasks.filter((t) => t.Status.State === 'running');
}

/** Base of every service here: killed at once on stop, restarted without delay. */
function template(extra: Record<string, unknown> = {}, command = 'sleep 3600'): Record<string, unknown> {
  return {
    ContainerSpec: {
      Image: IMAGE,
      Command: ['sh', '-c', command],
      StopSignal: 'SIGKILL',
      StopGracePeriod: 1e9,
    },
    RestartPolicy: { Condition: 'any', Delay: 0, MaxAttempts: 0 },
    ...extra,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-dockerode-'));
  node = new Shoald('dockerode', dir);
  await node.start();
  d = new Docker({ socketPath: node.sock });
  const tag = await engine(['tag', IMAGE, IMAGE_B]);
  assert.equal(tag.code, 0, tag.stderr);
});

after(async () => {
  await node?.docker(['swarm', 'leave', '--force'], { timeoutMs: 60_000 });
  await node?.stop();
  await engine(['rmi', IMAGE_B]);
  await rm(dir, { recursive: true, force: true });
});

let nodeId = '';

test('dockerode: swarm init, inspect, info, version and ping', async () => {
  const id = (await d.swarmInit({ ListenAddr: '127.0.0.1:0', AdvertiseAddr: '127.0.0.1' })) as unknown;
  assert.match(String(id), /^[a-z0-9]{25}$/, 'swarm init answers the node ID');
  nodeId = String(id);
  const swarm = (await d.swarmInspect()) as {
    ID: string;
    JoinTokens: { Worker: string };
    Spec: { Name: string };
  };
  assert.equal(swarm.Spec.Name, 'default');
  assert.match(swarm.JoinTokens.Worker, /^SWMTKN-1-/);
  const info = (await d.info()) as {
    Swarm: {
      LocalNodeState: string;
      ControlAvailable: boolean;
      NodeID: string;
      Cluster: { ID: string; Spec: { Dispatcher: { HeartbeatPeriod: number } } };
    };
  };
  assert.equal(info.Swarm.LocalNodeState, 'active');
  assert.equal(info.Swarm.ControlAvailable, true);
  assert.equal(info.Swarm.NodeID, nodeId);
  assert.equal(info.Swarm.Cluster.ID, swarm.ID);
  assert.equal(info.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod, 1e9, "shoal's default heartbeat, shown");
  const version = await d.version();
  assert.match(version.ApiVersion, /^1\.\d+$/);
  assert.equal(String(await d.ping()), 'OK');
});

test('dockerode: swarm update rotates the worker token and keeps the spec given', async () => {
  const before = (await d.swarmInspect()) as {
    Version: { Index: number };
    JoinTokens: { Worker: string; Manager: string };
    Spec: Record<string, unknown>;
  };
  await d.swarmUpdate({
    ...before.Spec,
    Labels: { sdk: 'dockerode' },
    version: before.Version.Index,
    rotateWorkerToken: true,
  } as unknown as object);
  const after = (await d.swarmInspect()) as typeof before;
  assert.notEqual(after.JoinTokens.Worker, before.JoinTokens.Worker, 'the worker token was rotated');
  assert.equal(after.JoinTokens.Manager, before.JoinTokens.Manager, 'the manager token was not');
  assert.deepEqual(after.Spec.Labels, { sdk: 'dockerode' });
  assert.ok(after.Version.Index > before.Version.Index);
  const stale = await sdkError(
    d.swarmUpdate({ ...before.Spec, version: before.Version.Index } as unknown as object),
  );
  assert.match(stale.message, /update out of sequence/);
});

test('dockerode: nodes list with filters, inspect, update availability and labels', async () => {
  const managers = await d.listNodes({ filters: { role: ['manager'] } } as object);
  assert.deepEqual(
    managers.map((n) => (n as { ID: string }).ID),
    [nodeId],
  );
  assert.deepEqual(await d.listNodes({ filters: { role: ['worker'] } } as object), []);
  const n = d.getNode(nodeId);
  const cur = (await n.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
  assert.equal(cur.Spec.Availability, 'active');
  await n.update({ ...cur.Spec, Availability: 'pause', Labels: { zone: 'a' }, version: cur.Version.Index });
  const paused = (await n.inspect()) as typeof cur;
  assert.equal(paused.Spec.Availability, 'pause');
  assert.deepEqual(paused.Spec.Labels, { zone: 'a' });
  const byLabel = await d.listNodes({ filters: { 'node.label': ['zone=a'] } } as object);
  assert.equal(byLabel.length, 1);
  await n.update({ ...paused.Spec, Availability: 'active', version: paused.Version.Index });
  assert.equal(((await n.inspect()) as typeof cur).Spec.Availability, 'active');
  const missing = await sdkError(d.getNode('nosuchnode').inspect());
  assert.equal(missing.status, 404);
});

let secretId = '';
let configId = '';
let networkId = '';

test('dockerode: secrets and configs: create, list, inspect, update labels', async () => {
  const s = (await d.createSecret({
    Name: 'dsecret',
    Labels: { app: 'sdk' },
    Data: Buffer.from('secret-value-42').toString('base64'),
  })) as unknown as { id: string };
  secretId = s.id;
  assert.match(secretId, /^[a-z0-9]{25}$/);
  const c = (await d.createConfig({
    Name: 'dconfig',
    Labels: { app: 'sdk' },
    Data: Buffer.from('config-value-7').toString('base64'),
  })) as unknown as { id: string };
  configId = c.id;

  const secrets = (await d.listSecrets({ filters: { name: ['dsecret'] } } as object)) as { ID: string }[];
  assert.deepEqual(
    secrets.map((x) => x.ID),
    [secretId],
  );
  const secret = (await d.getSecret(secretId).inspect()) as {
    Version: { Index: number };
    Spec: { Name: string; Labels: Record<string, string>; Data?: string };
  };
  assert.equal(secret.Spec.Name, 'dsecret');
  assert.equal(secret.Spec.Data, undefined, 'a secret is never returned');
  await d.getSecret(secretId).update({
    Name: 'dsecret',
    Labels: { app: 'sdk', rotated: 'no' },
    version: secret.Version.Index,
  } as object);
  const relabelled = (await d.getSecret(secretId).inspect()) as typeof secret;
  assert.deepEqual(relabelled.Spec.Labels, { app: 'sdk', rotated: 'no' });

  const configs = (await d.listConfigs({ filters: { label: ['app=sdk'] } } as object)) as { ID: string }[];
  assert.deepEqual(
    configs.map((x) => x.ID),
    [configId],
  );
  const config = (await d.getConfig(configId).inspect()) as {
    Version: { Index: number };
    Spec: { Name: string; Data: string; Labels: Record<string, string> };
  };
  assert.equal(Buffer.from(config.Spec.Data, 'base64').toString(), 'config-value-7');
  await d.getConfig(configId).update({
    Name: 'dconfig',
    Data: config.Spec.Data,
    Labels: { app: 'sdk', v: '2' },
    version: config.Version.Index,
  } as object);
  assert.deepEqual(((await d.getConfig(configId).inspect()) as typeof config).Spec.Labels, {
    app: 'sdk',
    v: '2',
  });
  const dup = await sdkError(d.createSecret({ Name: 'dsecret', Data: Buffer.from('x').toString('base64') }));
  assert.equal(dup.status, 409);
});

test('dockerode: an attachable overlay network: create, list, inspect', async () => {
  const net = (await d.createNetwork({
    Name: 'dnet',
    Driver: 'overlay',
    Attachable: true,
    Labels: { app: 'sdk' },
  })) as unknown as { id: string };
  networkId = net.id;
  const info = (await d.getNetwork(networkId).inspect()) as {
    Name: string;
    Driver: string;
    Scope: string;
    Attachable: boolean;
    Labels: Record<string, string>;
  };
  assert.equal(info.Name, 'dnet');
  assert.equal(info.Driver, 'overlay');
  assert.equal(info.Scope, 'swarm');
  assert.equal(info.Attachable, true);
  assert.deepEqual(info.Labels, { app: 'sdk' });
  const listed = (await d.listNetworks({ filters: { name: ['dnet'] } })) as { Id: string }[];
  assert.ok(
    listed.some((n) => n.Id === networkId),
    `dnet is listed: ${JSON.stringify(listed)}`,
  );
});

let repId = '';

test('dockerode: a replicated service with env, labels, mounts, resources, secret, config and network', async () => {
  const base = template(
    {
      Resources: {
        Limits: { NanoCPUs: 500_000_000, MemoryBytes: 64 * 1024 * 1024 },
        Reservations: { NanoCPUs: 100_000_000, MemoryBytes: 8 * 1024 * 1024 },
      },
      Networks: [{ Target: networkId }],
    },
    'echo out-line; echo err-line >&2; cat /run/secrets/dsecret; echo; cat /etc/dconfig; echo; sleep 3600',
  );
  const svc = await d.createService({
    Name: 'drep',
    Labels: { app: 'sdk' },
    TaskTemplate: {
      ...base,
      ContainerSpec: {
        ...(base.ContainerSpec as object),
        Env: ['GREETING=hello', 'MODE=sdk'],
        Labels: { 'container.label': 'yes' },
        Mounts: [{ Type: 'tmpfs', Target: '/scratch' }],
        Secrets: [
          {
            SecretID: secretId,
            SecretName: 'dsecret',
            File: { Name: 'dsecret', UID: '0', GID: '0', Mode: 0o444 },
          },
        ],
        Configs: [
          {
            ConfigID: configId,
            ConfigName: 'dconfig',
            File: { Name: '/etc/dconfig', UID: '0', GID: '0', Mode: 0o444 },
          },
        ],
      },
    },
    Mode: { Replicated: { Replicas: 2 } },
    UpdateConfig: { Parallelism: 0, Delay: 0, Order: 'stop-first', FailureAction: 'pause' },
    RollbackConfig: { Parallelism: 0, Delay: 0, Order: 'stop-first' },
  } as never);
  repId = svc.id;
  const created = (await svc.inspect()) as {
    Spec: {
      Labels: Record<string, string>;
      UpdateConfig: { Order: string; FailureAction: string };
      TaskTemplate: {
        RestartPolicy: { Condition: string };
        Resources: { Reservations: { NanoCPUs: number } };
      };
    };
  };
  assert.deepEqual(created.Spec.Labels, { app: 'sdk' });
  assert.equal(created.Spec.UpdateConfig.FailureAction, 'pause');
  assert.equal(created.Spec.TaskTemplate.RestartPolicy.Condition, 'any');
  assert.equal(created.Spec.TaskTemplate.Resources.Reservations.NanoCPUs, 100_000_000);
  await until('2 drep tasks run', async () => (await runningTasks(repId)).length === 2);
  const [task] = await runningTasks(repId);
  const t = (await d.getTask(task!.ID).inspect()) as {
    ServiceID: string;
    NodeID: string;
    Status: { ContainerStatus: { ContainerID: string } };
    NetworksAttachments?: { Network: { ID: string } }[];
  };
  assert.equal(t.ServiceID, repId);
  assert.equal(t.NodeID, nodeId);
  assert.ok(
    (t.NetworksAttachments ?? []).some((a) => a.Network.ID === networkId),
    'the task is attached to dnet',
  );
  // What reached the container, as the engine has it.
  const c = JSON.parse((await engine(['inspect', t.Status.ContainerStatus.ContainerID])).stdout)[0] as {
    Config: { Env: string[]; Labels: Record<string, string> };
    HostConfig: { NanoCpus: number; Memory: number; Mounts?: { Type: string; Target: string }[] };
  };
  assert.ok(c.Config.Env.includes('MODE=sdk'), `env: ${c.Config.Env.join(' ')}`);
  assert.equal(c.Config.Labels['container.label'], 'yes');
  assert.equal(c.Config.Labels['com.docker.swarm.service.id'], repId);
  assert.equal(c.HostConfig.NanoCpus, 500_000_000);
  assert.equal(c.HostConfig.Memory, 64 * 1024 * 1024);
  assert.ok(
    (c.HostConfig.Mounts ?? []).some((m) => m.Type === 'tmpfs' && m.Target === '/scratch'),
    'the tmpfs mount',
  );
});

test('dockerode: service logs without follow, stdout and stderr apart, with timestamps', async () => {
  const svc = d.getService(repId);
  let logs = { stdout: '', stderr: '' };
  await until('both tasks logged', async () => {
    const buf = (await svc.logs({
      follow: false,
      stdout: true,
      stderr: true,
      timestamps: true,
    })) as unknown as Buffer;
    logs = demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
    return logs.stdout.split('out-line').length - 1 === 2;
  });
  assert.equal(logs.stderr.split('err-line').length - 1, 2, 'stderr went on its own stream');
  assert.ok(!logs.stdout.includes('err-line'));
  assert.match(logs.stdout, /secret-value-42/, 'the secret was mounted at /run/secrets/dsecret');
  assert.match(logs.stdout, /config-value-7/, 'the config was mounted at /etc/dconfig');
  // Without details=true (which the docker CLI asks for), each line is only its timestamp and text.
  for (const line of logs.stdout.trim().split('\n'))
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \S/, `a timestamp first: ${line}`);
  const detailed = demux((await svc.logs({ stdout: true, details: true })) as unknown as Buffer);
  assert.match(detailed.stdout, new RegExp(`com\\.docker\\.swarm\\.service\\.id=${repId}\\S* out-line`));
  const only = demux((await svc.logs({ follow: false, stdout: false, stderr: true })) as unknown as Buffer);
  assert.equal(only.stdout, '');
  assert.match(only.stderr, /err-line/);
});

let globalId = '';

test('dockerode: a global service and list filters', async () => {
  const g = await d.createService({
    Name: 'dglobal',
    Labels: { app: 'sdk', kind: 'global' },
    TaskTemplate: template(),
    Mode: { Global: {} },
  } as never);
  globalId = g.id;
  await until('the global task runs', async () => (await runningTasks(globalId)).length === 1);
  const byName = (await d.listServices({ filters: { name: ['dglobal'] } })) as { ID: string }[];
  assert.deepEqual(
    byName.map((s) => s.ID),
    [globalId],
  );
  const byMode = (await d.listServices({ filters: { mode: ['global'] } } as object)) as { ID: string }[];
  assert.deepEqual(
    byMode.map((s) => s.ID),
    [globalId],
  );
  const byLabel = (await d.listServices({ filters: { label: ['app=sdk'] } })) as { ID: string }[];
  assert.deepEqual(byLabel.map((s) => s.ID).sort(), [globalId, repId].sort());
  const tasks = (await d.listTasks({ filters: { node: [nodeId], service: ['dglobal'] } } as object)) as {
    ServiceID: string;
  }[];
  assert.ok(tasks.length >= 1 && tasks.every((t) => t.ServiceID === globalId));
});

test('dockerode: update with version: scale, image change, rollback to the previous spec', async () => {
  const svc = d.getService(repId);
  type Inspected = {
    Version: { Index: number };
    Spec: { Mode: { Replicated: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Image: string } } };
    PreviousSpec?: { TaskTemplate: { ContainerSpec: { Image: string } } };
  };
  let cur = (await svc.inspect()) as Inspected;
  await svc.update({ ...cur.Spec, Mode: { Replicated: { Replicas: 3 } }, version: cur.Version.Index });
  await until('scaled to 3', async () => (await runningTasks(repId)).length === 3);

  cur = (await svc.inspect()) as Inspected;
  const stale = await sdkError(svc.update({ ...cur.Spec, version: cur.Version.Index - 1 }));
  assert.match(stale.message, /update out of sequence/);
  const spec = structuredClone(cur.Spec);
  spec.TaskTemplate.ContainerSpec.Image = IMAGE_B;
  await svc.update({ ...spec, version: cur.Version.Index });
  const onImage = async (image: string): Promise<boolean> => {
    const tasks = await runningTasks(repId);
    return tasks.length === 3 && tasks.every((t) => t.Spec.ContainerSpec.Image === image);
  };
  await until('3 tasks on the new image', () => onImage(IMAGE_B));
  cur = (await svc.inspect()) as Inspected;
  assert.equal(cur.PreviousSpec?.TaskTemplate.ContainerSpec.Image, IMAGE);

  await svc.update({ ...cur.Spec, version: cur.Version.Index, rollback: 'previous' });
  cur = (await svc.inspect()) as Inspected;
  assert.equal(cur.Spec.TaskTemplate.ContainerSpec.Image, IMAGE, 'the spec rolled back');
  assert.equal(cur.PreviousSpec?.TaskTemplate.ContainerSpec.Image, IMAGE_B);
  await until('3 tasks back on the first image', () => onImage(IMAGE));
});

test('dockerode: errors carry Docker status and {"message"}', async () => {
  const missing = await sdkError(d.getService('nosuchservice').inspect());
  assert.equal(missing.status, 404);
  assert.match(missing.message, /service nosuchservice not found/);
  const dup = await sdkError(
    d.createService({
      Name: 'drep',
      TaskTemplate: template(),
      Mode: { Replicated: { Replicas: 1 } },
    } as never),
  );
  assert.equal(dup.status, 409);
  assert.match(dup.message, /drep/);
  const bad = await sdkError(
    d.createService({
      Name: 'dbad',
      TaskTemplate: template(),
      Mode: { Replicated: { Replicas: 1 }, Global: {} },
    } as never),
  );
  assert.equal(bad.status, 400);
  const noImage = await sdkError(
    d.createService({ Name: 'dnoimage', TaskTemplate: { ContainerSpec: {} } } as never),
  );
  assert.equal(noImage.status, 400);
  assert.deepEqual(await d.listServices({ filters: { name: ['dbad', 'dnoimage'] } }), []);
  const inUse = await sdkError(d.getSecret(secretId).remove());
  assert.equal(inUse.status, 400);
  assert.match(inUse.message, /in use/);
  const noTask = await sdkError(d.getTask('nosuchtask').inspect());
  assert.equal(noTask.status, 404);
});

test('dockerode: getEvents with since and until ends and holds what was done', async () => {
  const since = Math.floor(Date.now() / 1000) - 300;
  const until = Math.floor(Date.now() / 1000) + 1;
  const stream = (await d.getEvents({ since, until })) as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the event stream did not end at until')), 15_000);
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.on('end', () => (clearTimeout(timer), resolve()));
    stream.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
  await ended;
  const events = Buffer.concat(chunks)
    .toString()
    .split('\n')
    .filter((l) => l.trim())
    .map(
      (l) =>
        JSON.parse(l) as {
          Type: string;
          Action: string;
          Actor: { ID: string; Attributes: Record<string, string> };
        },
    );
  const has = (type: string, action: string, id: string): boolean =>
    events.some((e) => e.Type === type && e.Action === action && e.Actor.ID === id);
  assert.ok(has('service', 'create', repId), 'service create');
  assert.ok(has('service', 'update', repId), 'service update');
  assert.ok(has('secret', 'create', secretId), 'secret create');
  assert.ok(has('config', 'create', configId), 'config create');
  assert.ok(has('network', 'create', networkId), 'network create');
  assert.ok(has('node', 'update', nodeId), 'node update');
});

test('dockerode: remove services, then the secret, config and network they used', async () => {
  await d.getService(repId).remove();
  await d.getService(globalId).remove();
  assert.equal((await sdkError(d.getService(repId).inspect())).status, 404);
  await until('the tasks are gone', async () => {
    const tasks = (await d.listTasks({ filters: { service: ['drep'] } } as object)) as unknown[];
    const g = (await d.listTasks({ filters: { service: ['dglobal'] } } as object)) as unknown[];
    return tasks.length === 0 && g.length === 0;
  });
  await d.getSecret(secretId).remove();
  await d.getConfig(configId).remove();
  await d.getNetwork(networkId).remove();
  assert.equal((await sdkError(d.getSecret(secretId).inspect())).status, 404);
  assert.equal((await sdkError(d.getConfig(configId).inspect())).status, 404);
  assert.equal((await sdkError(d.getNetwork(networkId).inspect())).status, 404);
  assert.deepEqual(await d.listSecrets({ filters: { name: ['dsecret'] } } as object), []);
});
