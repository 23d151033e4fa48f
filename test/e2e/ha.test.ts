// Highly available managers, as real processes on loopback: three (then five) shoalds joined with
// the manager token, a steady write load through the Engine API of whichever managers are up, and
// the leader killed with SIGKILL round after round, frozen with SIGSTOP, and outvoted. Writes are
// config creates (small, no containers); a write counts as acknowledged when the API answered 201,
// and every acknowledged one must be on every manager at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shoald, engine, waitFor } from '../support/shoald.js';

const PORT = 42378;
const addrOf = (i: number): string => `127.0.1.${i + 1}`;
const NO_LEADER = /The swarm does not have a leader/;

let dir = '';
const managers: Shoald[] = [];

interface ApiResult {
  status: number;
  body: string;
}

/** One Engine API call over a node's unix socket; a refused socket or timeout is status 0. */
function api(
  node: Shoald,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<ApiResult> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: node.sock,
        method,
        path: `/v1.41${path}`,
        headers: payload ? { 'content-type': 'application/json' } : {},
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end(payload);
  });
}

const alive = (n: Shoald): boolean => !!n.proc && n.proc.exitCode === null && n.proc.signalCode === null;

let generation = 0;
function newManager(i: number): Shoald {
  return new Shoald(`g${generation}m${i + 1}`, dir, ['--raft-snapshot-interval', '200']);
}

/** The manager that leads, as the first live manager that answers sees it. */
async function leader(among: Shoald[] = managers): Promise<Shoald | undefined> {
  for (const n of among.filter(alive)) {
    const r = await api(n, 'GET', '/nodes');
    if (r.status !== 200) continue;
    const nodes = JSON.parse(r.body) as {
      Description: { Hostname: string };
      ManagerStatus?: { Leader?: boolean };
    }[];
    const l = nodes.find((x) => x.ManagerStatus?.Leader);
    if (l) return managers.find((m) => m.name === l.Description.Hostname);
  }
  return undefined;
}

/** Config names on a manager (its local store). */
async function configs(n: Shoald): Promise<Set<string>> {
  const r = await api(n, 'GET', '/configs');
  assert.equal(r.status, 200, `GET /configs on ${n.name}: ${r.body}`);
  return new Set((JSON.parse(r.body) as { Spec: { Name: string } }[]).map((c) => c.Spec.Name));
}

let seq = 0;
/** Creates one config through `via`; resolves with its name if acknowledged. */
async function write(via: Shoald): Promise<string | undefined> {
  const name = `w${process.pid}-${seq++}`;
  const r = await api(via, 'POST', '/configs/create', {
    Name: name,
    Data: Buffer.from(name).toString('base64'),
  });
  return r.status === 201 ? name : undefined;
}

/** Writes through the live managers in turn until stopped; keeps what was acknowledged. */
class Load {
  acked: string[] = [];
  failed = 0;
  #stop = false;
  #done: Promise<void>;
  constructor(among: () => Shoald[], writers = 2) {
    const loop = async (k: number): Promise<void> => {
      // Bounded in time and count, whatever happens to the managers.
      const until = Date.now() + 300_000;
      for (let i = 0; !this.#stop && i < 100_000 && Date.now() < until; i++) {
        const live = among().filter(alive);
        const via = live[(i + k) % Math.max(1, live.length)];
        const name = via ? await write(via) : undefined;
        if (name) this.acked.push(name);
        else {
          this.failed++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    this.#done = Promise.all(Array.from({ length: writers }, (_, k) => loop(k))).then(() => undefined);
  }
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

/** The end of every manager's log, for a failure message. */
function logs(): string {
  return managers.map((m) => `--- ${m.name} ---\n${m.log.slice(-2500)}`).join('\n');
}

/** Waits until a write through `via` is acknowledged; returns how long that took. */
async function firstWrite(via: () => Shoald | undefined, timeoutMs = 20_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const n = via();
    if (n && (await write(n))) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`no write was acknowledged within ${timeoutMs} ms\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function managerStatus(via: Shoald): Promise<Map<string, string>> {
  const out = await via.ok(['node', 'ls', '--format', '{{.Hostname}} {{.ManagerStatus}}']);
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
}

async function allAgree(among: Shoald[], names: readonly string[]): Promise<void> {
  await waitFor(
    'every manager to hold every acknowledged write',
    async () => {
      for (const n of among) {
        const have = await configs(n).catch(() => new Set<string>());
        if (names.some((x) => !have.has(x))) return false;
      }
      return true;
    },
    30_000,
    200,
  );
}

async function startCluster(count: number): Promise<void> {
  generation++;
  const first = newManager(0);
  managers.push(first);
  await first.start();
  await first.ok(['swarm', 'init', '--advertise-addr', addrOf(0), '--listen-addr', `${addrOf(0)}:${PORT}`]);
  const token = (await first.ok(['swarm', 'join-token', '-q', 'manager'])).trim();
  for (let i = 1; i < count; i++) {
    const n = newManager(i);
    managers.push(n);
    await n.start();
    const out = await n.ok([
      'swarm',
      'join',
      '--token',
      token,
      '--advertise-addr',
      addrOf(i),
      '--listen-addr',
      `${addrOf(i)}:${PORT}`,
      `${addrOf(0)}:${PORT}`,
    ]);
    assert.match(out, /This node joined a swarm as a manager/);
  }
  await waitFor('all managers reachable', async () => {
    const s = await managerStatus(first);
    return [...s.values()].filter((v) => v === 'Leader' || v === 'Reachable').length === count;
  });
}

async function stopAll(): Promise<void> {
  for (const n of managers) {
    if (n.proc?.signalCode === null && n.proc.exitCode === null) n.proc.kill('SIGCONT');
    await n.stop('SIGKILL');
  }
  managers.length = 0;
  await removeContainers();
}

async function removeContainers(): Promise<void> {
  const ids = (await engine(['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name'])).stdout.trim();
  if (ids) await engine(['rm', '-f', ...ids.split('\n')]);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-ha-'));
  await removeContainers();
});

after(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

test('three managers join with the manager token; node ls shows the Leader and Reachable managers', async () => {
  await startCluster(3);
  const s = await managerStatus(managers[1]!);
  assert.deepEqual([...s.values()].sort(), ['Leader', 'Reachable', 'Reachable']);
  // A follower's view agrees on who leads; its writes go to the leader and read back at once.
  const name = await write(managers[2]!);
  assert.ok(name, 'a write through a follower is acknowledged');
  assert.ok((await configs(managers[2]!)).has(name!), 'the follower reads its own write');
});

test('service logs asked of any manager shows the tasks of every node', async () => {
  const lead = (await leader())!;
  await lead.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'hlog',
    '--mode',
    'global',
    '--no-resolve-image',
    'busybox:local',
    'sh',
    '-c',
    'echo hello-ha; sleep 100000',
  ]);
  for (const n of managers) {
    await waitFor(`${n.name}: hello-ha from the 3 managers' tasks`, async () => {
      const out = await n.ok(['service', 'logs', 'hlog']);
      const nodes = new Set([...out.matchAll(/^hlog\.\w+\.\w+@(\S+)\s+\| hello-ha$/gm)].map((mt) => mt[1]));
      return nodes.size === 3;
    });
  }
  await lead.ok(['service', 'rm', 'hlog']);
});

test('kill -9 of the leader, 10 rounds under write load: a new leader takes writes each round and no acknowledged write is lost', async () => {
  const load = new Load(() => managers);
  const failovers: number[] = [];
  try {
    for (let round = 0; round < 10; round++) {
      const victim = await leader();
      assert.ok(victim, `round ${round}: a leader is known`);
      await victim.stop('SIGKILL');
      const rest = managers.filter((m) => m !== victim);
      failovers.push(await firstWrite(() => rest.find(alive)));
      const next = await leader(rest);
      assert.ok(next && next !== victim, `round ${round}: a surviving manager leads`);
      await victim.start();
      await waitFor(`round ${round}: ${victim.name} back and reachable`, async () => {
        const s = await managerStatus(victim).catch(() => new Map<string, string>());
        return s.get(victim.name) === 'Reachable' || s.get(victim.name) === 'Leader';
      });
    }
  } finally {
    await load.stop();
  }
  assert.ok(load.acked.length > 50, `the load made progress (${load.acked.length} acknowledged)`);
  await allAgree(managers, load.acked);
  failovers.sort((a, b) => a - b);
  process.stderr.write(`failover ms over 10 rounds: ${failovers.join(' ')}\n`);
});

test('SIGSTOP of the leader: the others elect a new one; after SIGCONT the old leader follows it', async () => {
  const victim = (await leader())!;
  const rest = managers.filter((m) => m !== victim);
  victim.proc!.kill('SIGSTOP');
  try {
    await firstWrite(() => rest[0]);
    const next = await leader(rest);
    assert.ok(next && next !== victim);
  } finally {
    victim.proc!.kill('SIGCONT');
  }
  // The old leader hears the new term and steps down: one leader, the same one, everywhere.
  await waitFor('the old leader to follow', async () => {
    const views = await Promise.all(managers.map((m) => leader([m])));
    return views.every((v) => v !== undefined && v === views[0] && v !== victim);
  });
  const name = await write(victim);
  assert.ok(name, 'a write through the old leader is acknowledged (forwarded to the new one)');
  await allAgree(managers, [name!]);
});

test('a follower that missed many writes catches up from a snapshot', async () => {
  const l = (await leader())!;
  const follower = managers.find((m) => m !== l)!;
  await follower.stop('SIGKILL');
  const names: string[] = [];
  // Well past the snapshot interval (200) and the entries kept behind it, so the log no longer
  // reaches back to where the follower stopped.
  for (let i = 0; i < 600; i++) {
    const n = await write(l);
    if (n) names.push(n);
  }
  assert.ok(names.length >= 590, `writes were acknowledged (${names.length})`);
  follower.log = '';
  await follower.start();
  await allAgree([follower], names);
  assert.match(follower.log, /installed a snapshot of the cluster state at index [1-9]/);
});

test('docker node demote/promote/rm: the leader hands over before it leaves; a dead manager is removed with --force', async () => {
  const l = (await leader())!;
  const other = managers.find((m) => m !== l)!;
  assert.match(await other.ok(['node', 'demote', l.name]), new RegExp(`Manager ${l.name} demoted`));
  await waitFor('the demoted leader to be a worker and another manager to lead', async () => {
    const s = await managerStatus(other);
    return !s.get(l.name) && [...s.values()].includes('Leader');
  });
  assert.notEqual(await leader([other]), l);
  await waitFor(
    `${l.name} to run as a worker`,
    async () =>
      (await l.docker(['info', '--format', '{{.Swarm.ControlAvailable}}'])).stdout.trim() === 'false',
  );
  // The node object changes as the demoted node re-registers as a worker; like any docker CLI
  // update, promote then may meet "update out of sequence" and is simply run again.
  await waitFor(
    `promote ${l.name}`,
    async () => (await other.docker(['node', 'promote', l.name])).code === 0,
    30_000,
    250,
  );
  await waitFor(`${l.name} to be a reachable manager again`, async () => {
    const s = await managerStatus(other);
    return s.get(l.name) === 'Reachable' || s.get(l.name) === 'Leader';
  });
  assert.ok(await write(l), 'the promoted manager serves writes again');
  // A manager that is gone for good: --force removes it from the Raft group and the node list.
  const cur = (await leader())!;
  const dead = managers.find((m) => m !== cur)!;
  await dead.stop('SIGKILL');
  const survivor = managers.find((m) => alive(m))!;
  const refused = await survivor.docker(['node', 'rm', dead.name]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /must be demoted to worker before removal/);
  await waitFor(`${dead.name} to be down`, async () =>
    /Down/.test(await survivor.ok(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])),
  );
  await survivor.ok(['node', 'rm', '--force', dead.name]);
  const s = await managerStatus(survivor);
  assert.equal(s.size, 2);
  assert.ok((await firstWrite(() => survivor)) >= 0);
});

test('autolock turned on through a follower locks every manager with one shared key', async () => {
  const live = managers.filter(alive);
  const l = (await leader(live))!;
  const follower = live.find((m) => m !== l)!;
  await follower.ok(['swarm', 'update', '--autolock=true']);
  const key = (await follower.ok(['swarm', 'unlock-key', '-q'])).trim();
  assert.match(key, /^SWMKEY-1-/);
  await waitFor(
    'the leader to report the same key',
    async () => (await l.ok(['swarm', 'unlock-key', '-q'])).trim() === key,
  );
  // Every manager's data key is wrapped by it once the setting reaches it: a restart locks it.
  await new Promise((r) => setTimeout(r, 500));
  await follower.stop('SIGKILL');
  await follower.start();
  assert.equal((await follower.ok(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'locked');
  await follower.ok(['swarm', 'unlock'], { input: `${key}\n` });
  await waitFor(
    'the unlocked manager to serve',
    async () => (await api(follower, 'GET', '/services')).status === 200,
  );
  await waitFor(
    'autolock to be turned off again (once the group has its quorum back)',
    async () => (await follower.docker(['swarm', 'update', '--autolock=false'])).code === 0,
    30_000,
    250,
  );
});

test('five managers: two down still serve writes; three down fail writes fast with the quorum error while reads work', async () => {
  await stopAll();
  await startCluster(5);
  await managers[0]!.ok([
    'service',
    'create',
    '--no-resolve-image',
    '-d',
    '--name',
    'keep',
    '--replicas',
    '0',
    'busybox:local',
    'sleep',
    '60',
  ]);
  const kill = async (): Promise<void> => {
    const l = await leader();
    const victim = managers.find((m) => alive(m) && m !== l)!;
    await victim.stop('SIGKILL');
  };
  await kill();
  await kill();
  await firstWrite(() => managers.find(alive));
  await kill();
  const survivor = managers.find(alive)!;
  // The leader notices it lost its quorum within an election timeout; then writes fail at once.
  await waitFor(
    'writes to fail with the quorum error',
    async () => {
      const r = await api(survivor, 'POST', '/configs/create', { Name: `q${seq++}`, Data: '' });
      return r.status === 503 && NO_LEADER.test(r.body);
    },
    10_000,
    200,
  );
  const t0 = Date.now();
  const r = await api(survivor, 'POST', '/configs/create', { Name: `q${seq++}`, Data: '' });
  assert.equal(r.status, 503);
  assert.ok(Date.now() - t0 < 1000, 'a write without quorum fails fast');
  assert.equal((await api(survivor, 'GET', '/services')).status, 200, 'reads still work');
  const cli = await survivor.docker([
    'service',
    'create',
    '--no-resolve-image',
    '-d',
    '--name',
    'nope',
    'busybox:local',
  ]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, NO_LEADER);
});

test('swarm init --force-new-cluster on a survivor restores a one-manager cluster with every service', async () => {
  const survivor = managers.find(alive)!;
  await survivor.ok([
    'swarm',
    'init',
    '--force-new-cluster',
    '--advertise-addr',
    survivor === managers[0] ? addrOf(0) : addrOf(managers.indexOf(survivor)),
  ]);
  const s = await managerStatus(survivor);
  assert.equal(s.get(survivor.name), 'Leader');
  assert.equal([...s.values()].filter((v) => v === 'Leader' || v === 'Reachable').length, 1);
  assert.match(await survivor.ok(['service', 'ls', '--format', '{{.Name}}']), /^keep$/m);
  assert.ok(await write(survivor), 'the recovered manager takes writes');
});
