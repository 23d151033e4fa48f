// Scale figures on the simulated executor: one shoald with many services and tasks, its API
// served on a unix socket, timed from a client as the docker CLI would call it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, daemonApi } from '../src/daemon/index.js';
import { listen } from '../src/httpapi/index.js';
import { SimExecutor } from '../src/agent/index.js';
import { EngineApiClient as Client } from '../src/engineclient/index.js';
import type { Service } from '../src/api/index.js';

const DESCRIPTION = {
  Hostname: 'sim',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 64e9, MemoryBytes: 256 * 1024 ** 3 },
  Engine: { EngineVersion: 'sim' },
};

export async function serviceListLatency(
  services: number,
  replicas: number,
  samples: number,
): Promise<{ services: number; tasks: number; p50: number; p99: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-scale-'));
  const daemon = new Daemon({
    dataRoot: join(dir, 'data'),
    engineHost: 'unix:///nonexistent',
    executorFactory: () => new SimExecutor(DESCRIPTION),
  });
  await daemon.start();
  const app = daemonApi(daemon);
  const sock = join(dir, 'api.sock');
  const servers = await listen(app, [`unix://${sock}`]);
  const api = new Client({ host: `unix://${sock}` });
  try {
    await api.call('POST', '/swarm/init', { ListenAddr: '127.0.0.1:0' });
    for (let i = 0; i < services; i++) {
      await api.call('POST', '/services/create', {
        Name: `s${i}`,
        Mode: { Replicated: { Replicas: replicas } },
        TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } },
      });
    }
    const deadline = Date.now() + 600_000;
    for (;;) {
      const list = await api.call<Service[]>('GET', '/services?status=true');
      if (list.every((s) => s.ServiceStatus?.RunningTasks === replicas)) break;
      if (Date.now() > deadline) throw new Error('scale setup did not converge');
      await new Promise((r) => setTimeout(r, 500));
    }
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await api.call('GET', '/services?status=true');
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return { services, tasks: services * replicas, p50: at(0.5), p99: at(0.99) };
  } finally {
    for (const s of servers) s.close();
    await daemon.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}
