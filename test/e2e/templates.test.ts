// End to end: swarm's Go templates with the stock docker CLI and docker-py against shoald, which
// drives the real dockerd. Task specs (hostname, env, mounts) expand per task on the node; a spec
// whose templates cannot expand is refused; templated secrets and configs (--template-driver
// golang) reach the task's files expanded, and one that reads a secret the task lacks fails the task.
// Needs dockerd, busybox:local and python3-docker; run it under /tmp/shoal-e2e.lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { engine, Shoald, waitFor } from '../support/shoald.js';

const run = promisify(execFile);
let dir = '';
let node: Shoald;
let nodeId = '';

/** The running container of a service's task on this node (by the swarm labels). */
async function containerOf(service: string): Promise<string> {
  const r = await engine([
    'ps',
    '-q',
    '--filter',
    `label=com.docker.swarm.service.name=${service}`,
    '--filter',
    `label=com.docker.swarm.node.id=${nodeId}`,
  ]);
  return r.stdout.split('\n').find(Boolean) ?? '';
}

async function running(service: string): Promise<string> {
  let id = '';
  await waitFor(
    `a running task of ${service}`,
    async () => (id = await containerOf(service)) !== '',
    60_000,
    250,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- shoald log ---\n${node.log.slice(-3000)}`);
  });
  return id;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-tmpl-'));
  node = new Shoald('tmplnode', dir);
  await node.start();
  await node.ok(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  nodeId = (await node.ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim();
});

after(async () => {
  await node.docker(['swarm', 'leave', '--force']);
  await node.stop();
  // This node's leftovers (a stopped daemon leaves its containers), then the templated volume.
  const left = await engine(['ps', '-aq', '--filter', `label=com.docker.swarm.node.id=${nodeId}`]);
  const ids = left.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await engine(['rm', '-f', ...ids]);
  await engine(['volume', 'rm', '-f', 'tmplvol-1']);
  await rm(dir, { recursive: true, force: true });
});

test(
  'hostname, env and mount sources reach the engine expanded for the task and node',
  { timeout: 120_000 },
  async () => {
    await node.ok([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'tsvc',
      '--label',
      'tier=front',
      '--hostname',
      '{{.Node.Hostname}}-{{.Task.Slot}}',
      '--env',
      'SVC={{.Service.Name}}',
      '--env',
      'SID={{.Service.ID}}',
      '--env',
      'TASK={{.Task.Name}}',
      '--env',
      'TID={{.Task.ID}}',
      '--env',
      'NODE={{.Node.ID}}',
      '--env',
      'OS={{.Node.Platform.OS}}',
      '--env',
      'LABELS={{.Service.Labels}}',
      '--mount',
      'type=volume,source=tmplvol-{{.Task.Slot}},target=/data',
      'busybox:local',
      'sleep',
      '3600',
    ]);
    const cid = await running('tsvc');
    const info = JSON.parse((await engine(['inspect', cid])).stdout) as {
      Config: { Hostname: string; Env: string[]; Labels: Record<string, string> };
      Mounts: { Type: string; Name?: string; Destination: string }[];
    }[];
    const c = info[0]!;
    const serviceId = (await node.ok(['service', 'inspect', '--format', '{{.ID}}', 'tsvc'])).trim();
    const taskId = c.Config.Labels['com.docker.swarm.task.id']!;
    assert.equal(c.Config.Hostname, 'tmplnode-1');
    for (const want of [
      'SVC=tsvc',
      `SID=${serviceId}`,
      `TASK=tsvc.1.${taskId}`,
      `TID=${taskId}`,
      `NODE=${nodeId}`,
      'OS=linux',
      'LABELS=map[tier:front]',
    ]) {
      assert.ok(c.Config.Env.includes(want), `${want} in ${JSON.stringify(c.Config.Env)}`);
    }
    assert.equal(c.Mounts.find((m) => m.Destination === '/data')?.Name, 'tmplvol-1');
    // The service keeps its templates: only the task's container is expanded.
    const spec = await node.ok([
      'service',
      'inspect',
      '--format',
      '{{json .Spec.TaskTemplate.ContainerSpec}}',
      'tsvc',
    ]);
    assert.equal((JSON.parse(spec) as { Hostname: string }).Hostname, '{{.Node.Hostname}}-{{.Task.Slot}}');
    await node.ok(['service', 'rm', 'tsvc']);
  },
);

test(
  'a spec whose templates cannot expand is refused at create and update, as Docker refuses it',
  { timeout: 60_000 },
  async () => {
    const bad = await node.docker([
      'service',
      'create',
      '--no-resolve-image',
      '--name',
      'tbad',
      '--env',
      'A={{.Nope}}',
      'busybox:local',
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      /expanding env failed: expanding env "A=\{\{\.Nope\}\}": template: expansion:1:2: executing "expansion" at <\.Nope>: can't evaluate field Nope in type \*template\.Context/,
    );
    const unclosed = await node.docker([
      'service',
      'create',
      '--no-resolve-image',
      '--name',
      'tbad',
      '--hostname',
      '{{.Node.Hostname',
      'busybox:local',
    ]);
    assert.match(unclosed.stderr, /expanding hostname failed: template: expansion:1: unclosed action/);
    assert.equal((await node.docker(['service', 'inspect', 'tbad'])).code, 1, 'nothing was created');

    await node.ok([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'tupd',
      'busybox:local',
      'sleep',
      '3600',
    ]);
    const upd = await node.docker([
      'service',
      'update',
      '--detach',
      '--env-add',
      'X={{upper .Service.Name}}',
      'tupd',
    ]);
    assert.match(upd.stderr, /function "upper" not defined/);
    const env = await node.ok([
      'service',
      'inspect',
      '--format',
      '{{json .Spec.TaskTemplate.ContainerSpec.Env}}',
      'tupd',
    ]);
    assert.equal(env.trim(), 'null', 'the refused update changed nothing');
    await node.ok(['service', 'rm', 'tupd']);
  },
);

test(
  'templated secrets and configs reach the task expanded, with env, secret and config',
  { timeout: 120_000 },
  async () => {
    await node.ok(['secret', 'create', 'tpw', '-'], { input: 's3cret-value' });
    await node.ok(['config', 'create', 'tplain', '-'], { input: 'port=80' });
    await node.ok(['secret', 'create', '--template-driver', 'golang', 'tsecret', '-'], {
      input:
        'user={{env "USER_NAME"}} host={{env "HOSTV"}} svc={{.Service.Name}} node={{.Node.Hostname}} pw={{secret "tpw"}}',
    });
    await node.ok(['config', 'create', '--template-driver', 'golang', 'tconfig', '-'], {
      input:
        '{{range $k, $v := .Service.Labels}}{{$k}}={{$v}};{{end}} slot={{.Task.Slot}} {{config "/plain.conf"}}',
    });
    const templating = await node.ok([
      'secret',
      'inspect',
      '--format',
      '{{json .Spec.Templating}}',
      'tsecret',
    ]);
    assert.deepEqual(JSON.parse(templating), { Name: 'golang' });

    await node.ok([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'tfiles',
      '--label',
      'b=2',
      '--label',
      'a=1',
      '--env',
      'USER_NAME=alice',
      '--env',
      'HOSTV={{.Node.Hostname}}',
      '--secret',
      'tpw',
      '--secret',
      'tsecret',
      '--config',
      'source=tplain,target=/plain.conf',
      '--config',
      'source=tconfig,target=/t.conf',
      'busybox:local',
      'sleep',
      '3600',
    ]);
    const cid = await running('tfiles');
    const secret = await engine(['exec', cid, 'cat', '/run/secrets/tsecret']);
    assert.equal(secret.stdout, 'user=alice host=tmplnode svc=tfiles node=tmplnode pw=s3cret-value');
    const config = await engine(['exec', cid, 'cat', '/t.conf']);
    assert.equal(config.stdout, 'a=1;b=2; slot=1 port=80');
    const plain = await engine(['exec', cid, 'cat', '/run/secrets/tpw']);
    assert.equal(plain.stdout, 's3cret-value', 'a plain secret is as it was');
    assert.ok(
      !node.log.includes('s3cret-value') && !node.log.includes('user=alice'),
      'no secret value in the log',
    );
    await node.ok(['service', 'rm', 'tfiles']);
  },
);

test(
  'a templated secret that reads a secret the service does not hold fails its task',
  { timeout: 120_000 },
  async () => {
    await node.ok(['secret', 'create', '--template-driver', 'golang', 'tneeds', '-'], {
      input: 'pw={{secret "absent"}}',
    });
    await node.ok([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'tlacks',
      '--secret',
      'tneeds',
      'busybox:local',
      'sleep',
      '3600',
    ]);
    let rows = '';
    await waitFor(
      'a rejected task',
      async () => {
        rows = await node.ok([
          'service',
          'ps',
          '--no-trunc',
          '--format',
          '{{.CurrentState}}|{{.Error}}',
          'tlacks',
        ]);
        return rows.includes('Rejected');
      },
      60_000,
      250,
    );
    const secretId = (await node.ok(['secret', 'inspect', '--format', '{{.ID}}', 'tneeds'])).trim();
    assert.ok(
      rows.includes(
        `failed to expand templated secret ${secretId}: template: expansion:1:5: executing "expansion" at <secret "absent">: error calling secret: secret target absent not found`,
      ),
      rows,
    );
    assert.equal(await containerOf('tlacks'), '', 'no container runs without its secret');
    await node.ok(['service', 'rm', 'tlacks']);
  },
);

test('docker-py: a templated config and a templated hostname', { timeout: 180_000 }, async () => {
  const script = join(dir, 'tmpl.py');
  await writeFile(
    script,
    `
import docker, json, sys, time
c = docker.DockerClient(base_url=sys.argv[1], version='auto', timeout=60)
cfg = c.configs.create(name='pycfg', data='svc={{.Service.Name}} os={{.Node.Platform.OS}}', templating={'name': 'golang'})
spec = docker.types.ContainerSpec('busybox:local', ['sleep', '3600'], hostname='py-{{.Task.Slot}}',
    configs=[docker.types.ConfigReference(cfg.id, 'pycfg', filename='/py.conf')])
c.api.create_service(docker.types.TaskTemplate(spec), name='pysvc')
print(json.dumps({'templating': c.configs.get('pycfg').attrs['Spec'].get('Templating')}))
`,
  );
  const { stdout } = await run('python3', [script, node.host], { timeout: 120_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { templating: unknown };
  assert.deepEqual(out.templating, { Name: 'golang' });
  const cid = await running('pysvc');
  assert.equal((await engine(['exec', cid, 'hostname'])).stdout.trim(), 'py-1');
  assert.equal((await engine(['exec', cid, 'cat', '/py.conf'])).stdout, 'svc=pysvc os=linux');
  await node.ok(['service', 'rm', 'pysvc']);
});
