// Node failure on a real multi-process cluster: one manager (drained) and two workers on
// loopback, sharing this machine's dockerd. Each round kills -9 a worker holding half of a
// 6-replica service (default restart policy) and times how long until the manager shows it
// Down, and until 6/6 run on the survivor. The victim then restarts and stops its old tasks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Node, Task } from '../src/api/index.js';
import { ShoaldProc, until } from './proc.js';

export interface FailoverResult {
  downMs: number[];
  replacedMs: number[];
}

export async function nodeFailover(rounds: number): Promise<FailoverResult> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-failover-'));
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });
  const m = new ShoaldProc('fm1', dir);
  const workers = [new ShoaldProc('fw1', dir), new ShoaldProc('fw2', dir)];
  const result: FailoverResult = { downMs: [], replacedMs: [] };
  const nodeIds: string[] = [];
  try {
    await m.start();
    await m.api.call('POST', '/swarm/init', { ListenAddr: '127.0.0.2:42390', AdvertiseAddr: '127.0.0.2' });
    const token = (await m.api.call<{ JoinTokens: { Worker: string } }>('GET', '/swarm')).JoinTokens.Worker;
    for (const [i, w] of workers.entries()) {
      await w.start();
      await w.api.call('POST', '/swarm/join', {
        RemoteAddrs: ['127.0.0.2:42390'],
        JoinToken: token,
        AdvertiseAddr: `127.0.0.${i + 3}`,
      });
    }
    const nodes = async (): Promise<Node[]> => m.api.call<Node[]>('GET', '/nodes');
    for (const n of await nodes()) nodeIds.push(n.ID);
    const self = (await nodes()).find((n) => n.Description.Hostname === 'fm1')!;
    await m.api.call('POST', `/nodes/${self.ID}/update?version=${self.Version.Index}`, {
      ...self.Spec,
      Availability: 'drain',
    });
    for (let r = 0; r < rounds; r++) {
      const { ID } = await m.api.call<{ ID: string }>('POST', '/services/create', {
        Name: `failover${r}`,
        Mode: { Replicated: { Replicas: 6 } },
        TaskTemplate: {
          ContainerSpec: { Image: 'busybox:local', Args: ['sleep', '100000'], StopGracePeriod: 1e9 },
        },
      });
      const running = async (): Promise<Task[]> =>
        (
          await m.api.call<Task[]>(
            'GET',
            `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [ID], 'desired-state': ['running'] }))}`,
          )
        ).filter((t) => t.Status.State === 'running');
      await until('6 running', async () => (await running()).length === 6);
      const victim = workers[r % 2]!;
      const victimId = (await nodes()).find((n) => n.Description.Hostname === victim.name)!.ID;
      const started = Date.now();
      await victim.kill();
      await until('victim down', async () =>
        (await nodes()).some((n) => n.ID === victimId && n.Status.State === 'down'),
      );
      result.downMs.push(Date.now() - started);
      await until(
        '6/6 on the survivor',
        async () => (await running()).filter((t) => t.NodeID !== victimId).length === 6,
      );
      result.replacedMs.push(Date.now() - started);
      await victim.start();
      await until('victim ready', async () =>
        (await nodes()).some((n) => n.ID === victimId && n.Status.State === 'ready'),
      );
      await m.api.call('DELETE', `/services/${ID}`);
    }
  } finally {
    for (const p of [...workers, m]) await p.kill().catch(() => undefined);
    for (const id of nodeIds) {
      for (const c of await engine.listContainers({
        all: true,
        filters: { label: [`com.docker.swarm.node.id=${id}`] },
      }))
        await engine
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}
