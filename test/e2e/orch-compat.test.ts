// End to end: orchestrator and scheduler behaviour as Docker's, through the stock docker CLI and
// docker-py against shoald driving the real dockerd: generic resources, global-job counts,
// scale-down, a stop-first rollback and placement preferences. Needs dockerd, busybox:local and
// python3-docker (.ci/run). Images are never resolved (--no-resolve-image): no registry traffic.
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

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-orch-'));
  node = new Shoald('orch1', dir, [
    '--node-generic-resource',
    'gpu=2',
    '--node-generic-resource',
    'fpga=F-1',
  ]);
  await node.start();
  await node.ok(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377']);
});

after(async () => {
  await node.docker(['swarm', 'leave', '--force'], { timeoutMs: 60_000 });
  await node.stop();
  await rm(dir, { recursive: true, force: true });
});

const create = (args: string[]): Promise<string> =>
  node.ok(['service', 'create', '--detach', '--no-resolve-image', ...args]);

async function replicas(name: string): Promise<string> {
  return (await node.ok(['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}'])).trim();
}

/** The tasks `docker service ps` lists: state and error columns. */
async function ps(name: string): Promise<{ state: string; error: string }[]> {
  const out = await node.ok([
    'service',
    'ps',
    '--no-trunc',
    '--format',
    '{{.CurrentState}}|{{.Error}}',
    name,
  ]);
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [state, error] = l.split('|');
      // The CLI shows an error in quotes.
      return { state: state!, error: (error ?? '').replace(/^"(.*)"$/, '$1') };
    });
}

/** Running containers of a service on the engine. */
async function containers(service: string): Promise<string[]> {
  const r = await engine(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]);
  return r.stdout.trim().split('\n').filter(Boolean);
}

test('node generic resources show in node inspect and are scheduled as reservations', async () => {
  const res = JSON.parse(
    await node.ok([
      'node',
      'inspect',
      'self',
      '--format',
      '{{json .Description.Resources.GenericResources}}',
    ]),
  ) as unknown[];
  assert.deepEqual(res, [
    { DiscreteResourceSpec: { Kind: 'gpu', Value: 2 } },
    { NamedResourceSpec: { Kind: 'fpga', Value: 'F-1' } },
  ]);
  await create(['--name', 'gpu2', '--generic-resource', 'gpu=2', 'busybox:local', 'sleep', '600']);
  await waitFor('gpu2 running', async () => (await replicas('gpu2')) === '1/1', 60_000, 250);
  // Both gpus are taken: another task that wants one stays pending and says why, in Docker's words.
  await create(['--name', 'gpu1', '--generic-resource', 'gpu=1', 'busybox:local', 'sleep', '600']);
  await create(['--name', 'gpu9', '--generic-resource', 'gpu=9', 'busybox:local', 'sleep', '600']);
  for (const name of ['gpu1', 'gpu9']) {
    await waitFor(
      `${name} pending with a reason`,
      async () =>
        (await ps(name)).some((t) => t.error === 'no suitable node (insufficient resources on 1 node)'),
      30_000,
      250,
    );
    assert.equal(await replicas(name), '0/1');
    assert.match((await ps(name))[0]!.state, /^Pending/);
  }
  // Freeing the gpus lets the waiting task run.
  await node.ok(['service', 'rm', 'gpu2']);
  await waitFor(
    'gpu1 running once gpu2 is gone',
    async () => (await replicas('gpu1')) === '1/1',
    60_000,
    250,
  );
  // The named fpga is handed to the task that asks for it.
  await create(['--name', 'fpga', '--generic-resource', 'fpga=1', 'busybox:local', 'sleep', '600']);
  await waitFor('fpga running', async () => (await replicas('fpga')) === '1/1', 60_000, 250);
  const given = await node.ok([
    'inspect',
    '--format',
    '{{json .GenericResources}}',
    (await taskIds('fpga'))[0]!,
  ]);
  assert.deepEqual(JSON.parse(given), [{ NamedResourceSpec: { Kind: 'fpga', Value: 'F-1' } }]);
  await node.ok(['service', 'rm', 'gpu1', 'gpu9', 'fpga']);
});

async function taskIds(name: string): Promise<string[]> {
  return (await node.ok(['service', 'ps', '-q', '--no-trunc', name])).trim().split('\n').filter(Boolean);
}

test('a finished global job reads 0/0 (1/1 completed) in service ls', async () => {
  await create(['--name', 'gjob', '--mode', 'global-job', 'busybox:local', 'echo', 'done']);
  await waitFor('gjob complete', async () => (await replicas('gjob')) === '0/0 (1/1 completed)', 60_000, 250);
  await node.ok(['service', 'rm', 'gjob']);
});

test('a scale-down removes the tasks of removed slots from service ps, and their containers', async () => {
  await create([
    '--name',
    'web',
    '--replicas',
    '3',
    '--stop-grace-period',
    '1s',
    'busybox:local',
    'sleep',
    '600',
  ]);
  await waitFor('3 running', async () => (await replicas('web')) === '3/3', 60_000, 250);
  await node.ok(['service', 'scale', '--detach', 'web=1']);
  await waitFor('one task left in service ps', async () => (await taskIds('web')).length === 1, 30_000, 250);
  assert.equal(await replicas('web'), '1/1');
  await waitFor('one container left', async () => (await containers('web')).length === 1, 30_000, 250);
  const all = await engine(['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name=web']);
  assert.equal(all.stdout.trim().split('\n').filter(Boolean).length, 1, 'the removed containers are gone');
  await node.ok(['service', 'rm', 'web']);
});

test('a stop-first rollback never runs the old and the new container side by side', async () => {
  // busybox sleep ignores SIGTERM, so each stop takes the whole grace period.
  await create([
    '--name',
    'rb',
    '--stop-grace-period',
    '3s',
    '--update-order',
    'start-first',
    '--update-monitor',
    '1s',
    '--rollback-order',
    'stop-first',
    '--rollback-monitor',
    '1s',
    'busybox:local',
    'sleep',
    '600',
  ]);
  await waitFor('rb running', async () => (await replicas('rb')) === '1/1', 60_000, 250);
  await node.ok(['service', 'update', '--detach', '--no-resolve-image', '--env-add', 'V=2', 'rb']);
  const state = async (): Promise<string> =>
    (await node.ok(['service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'rb'])).trim();
  await waitFor('update completed', async () => (await state()) === 'completed', 60_000, 250);
  await waitFor('the old container stopped', async () => (await containers('rb')).length === 1, 30_000, 250);
  await node.ok(['service', 'rollback', '--detach', 'rb']);
  let most = 0;
  await waitFor(
    'rollback completed with one container',
    async () => {
      most = Math.max(most, (await containers('rb')).length);
      return (await state()) === 'rollback_completed' && (await replicas('rb')) === '1/1';
    },
    60_000,
    150,
  );
  assert.equal(most, 1, 'at most one container ran at any time');
  const env = await engine(['inspect', '--format', '{{json .Config.Env}}', (await containers('rb'))[0]!]);
  assert.doesNotMatch(env.stdout, /V=2/, 'the running container is the rolled-back one');
  await node.ok(['service', 'rm', 'rb']);
});

test('placement preferences: any spread descriptor is kept; nodes lacking the label are one group', async () => {
  await create([
    '--name',
    'pref',
    '--replicas',
    '2',
    '--placement-pref',
    'spread=node.labels.rack',
    '--placement-pref',
    'spread=node.hostname',
    'busybox:local',
    'sleep',
    '600',
  ]);
  const prefs = JSON.parse(
    await node.ok([
      'service',
      'inspect',
      '--format',
      '{{json .Spec.TaskTemplate.Placement.Preferences}}',
      'pref',
    ]),
  ) as unknown;
  assert.deepEqual(prefs, [
    { Spread: { SpreadDescriptor: 'node.labels.rack' } },
    { Spread: { SpreadDescriptor: 'node.hostname' } },
  ]);
  await waitFor(
    'pref running on the unlabelled node',
    async () => (await replicas('pref')) === '2/2',
    60_000,
    250,
  );
  await node.ok(['service', 'rm', 'pref']);
});

test('docker-py: a service asking for generic resources, and a placement preference', async () => {
  const script = join(dir, 'gr.py');
  await writeFile(
    script,
    `import docker, json, sys, time
c = docker.DockerClient(base_url=sys.argv[1])
res = docker.types.Resources(generic_resources={'gpu': 1})
s = c.services.create('busybox:local', ['sleep', '600'], name='pygpu', resources=res,
                      preferences=[('spread', 'node.labels.zone')])
state = ''
for _ in range(200):
    ts = s.tasks()
    if ts and ts[0]['Status']['State'] == 'running':
        state = 'running'
        break
    time.sleep(0.25)
s.reload()
print(json.dumps({'state': state,
                  'generic': s.attrs['Spec']['TaskTemplate']['Resources']['Reservations']['GenericResources'],
                  'prefs': s.attrs['Spec']['TaskTemplate']['Placement']['Preferences']}))
s.remove()
`,
  );
  const { stdout } = await run('python3', [script, node.host], { timeout: 120_000 });
  const got = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(got, {
    state: 'running',
    generic: [{ DiscreteResourceSpec: { Kind: 'gpu', Value: 1 } }],
    prefs: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }],
  });
});
