// Where the CPU goes while containers start: `service create --replicas N` on shoal against the
// same N containers created straight through the engine, alternating, with each process's CPU
// time (dockerd, containerd, shoald) and the whole machine's. Run: `node dist/bench/create-cpu.js
// [N] [rounds]` (defaults 100 and 2) with the host's dockerd up, after one discarded warm-up round;
// writes nothing. SHOALD_NODE_FLAGS passes Node flags to shoald.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { EngineApiClient as Client } from '../src/engineclient/index.js';
import type { Service } from '../src/api/index.js';
import { benchServiceSpec } from './spec.js';

const N = Number(process.argv[2] ?? 100);
const ROUNDS = Number(process.argv[3] ?? 2);
const CONCURRENCY = [8, 16];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in clock ticks (1/100 s here). */
async function ticks(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function machine(): Promise<{ busy: number; all: number }> {
  const f = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return { busy: f[0]! + f[1]! + f[2]! + f[5]! + f[6]!, all: f.reduce((a, b) => a + b, 0) };
}

const pidOf = (name: string): number => Number(execFileSync('pgrep', ['-x', name]).toString().split('\n')[0]);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-create-cpu-'));
  const sock = join(dir, 'shoal.sock');
  // SHOALD_NODE_FLAGS: Node flags for shoald (a V8 heap setting under test, say).
  const nodeFlags = (process.env.SHOALD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const shoald = spawn(
    process.execPath,
    [
      ...nodeFlags,
      'bin/shoald.js',
      '--data-plane',
      'off',
      '--data-root',
      join(dir, 'data'),
      '-H',
      `unix://${sock}`,
    ],
    {
      stdio: 'ignore',
    },
  );
  const api = new Client({ host: `unix://${sock}` });
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });
  const procs = { dockerd: pidOf('dockerd'), containerd: pidOf('containerd'), shoald: shoald.pid! };
  try {
    for (let i = 0; ; i++) {
      if (
        await api.call('GET', '/version').then(
          () => true,
          () => false,
        )
      )
        break;
      if (i > 100) throw new Error('shoald did not come up');
      await sleep(100);
    }
    await api.call('POST', '/swarm/init', { ListenAddr: '127.0.0.1:0', AdvertiseAddr: '127.0.0.1' });
    const measure = async (label: string, fn: () => Promise<void>): Promise<void> => {
      const m0 = await machine();
      const p0 = await Promise.all(Object.values(procs).map(ticks));
      const t0 = performance.now();
      await fn();
      const secs = (performance.now() - t0) / 1000;
      const m1 = await machine();
      const p1 = await Promise.all(Object.values(procs).map(ticks));
      const per = Object.keys(procs).map((k, i) => `${k} ${((p1[i]! - p0[i]!) / 100).toFixed(1)}`);
      console.log(
        `${label}: ${secs.toFixed(2)} s; machine ${(((m1.busy - m0.busy) / (m1.all - m0.all)) * 100).toFixed(0)} % busy; CPU s: all ${((m1.busy - m0.busy) / 100).toFixed(1)}, ${per.join(', ')}`,
      );
    };
    const running = async (id: string): Promise<number> => {
      const f = encodeURIComponent(JSON.stringify({ id: { [id]: true } }));
      const list = await api.call<Service[]>('GET', `/services?status=true&filters=${f}`);
      return list[0]?.ServiceStatus?.RunningTasks ?? 0;
    };
    const removeAll = async (label: string): Promise<void> => {
      for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
        const cs = await engine.listContainers({ all: true, filters: { label: [label] } });
        if (cs.length === 0) return;
        for (let i = 0; i < cs.length; i += 4)
          await Promise.all(
            cs.slice(i, i + 4).map((c) =>
              engine
                .getContainer(c.Id)
                .remove({ force: true })
                .catch(() => undefined),
            ),
          );
      }
    };
    // A fresh shoald runs its first tasks before the JIT has settled, as the bench's N=100 never
    // does (N=10 and 50 go first): one discarded round of 20.
    for (let r = -1; r < ROUNDS; r++) {
      const name = `cpu${r + 1}`;
      const n = r < 0 ? 20 : N;
      let id = '';
      const create = async (): Promise<void> => {
        ({ ID: id } = await api.call<{ ID: string }>('POST', '/services/create', benchServiceSpec(name, n)));
        for (const deadline = Date.now() + 300_000; (await running(id)) < n;) {
          if (Date.now() > deadline) throw new Error('timed out');
          await sleep(20);
        }
      };
      if (r < 0) await create();
      else await measure(`shoal, service create --replicas ${N}`, create);
      await api.call('DELETE', `/services/${id}`);
      await removeAll(`com.docker.swarm.service.name=${name}`);
      await sleep(1000);
      if (r < 0) continue;
      for (const c of CONCURRENCY) {
        await measure(`engine alone, ${N} containers at concurrency ${c}`, async () => {
          let next = 0;
          await Promise.all(
            Array.from({ length: c }, async () => {
              while (next < N) {
                next++;
                const ct = await engine.createContainer({
                  Image: 'busybox:local',
                  Cmd: ['sleep', '3600'],
                  Labels: { 'shoal.bench': 'create-cpu' },
                });
                await ct.start();
              }
            }),
          );
        });
        await removeAll('shoal.bench=create-cpu');
        await sleep(1000);
      }
    }
  } finally {
    shoald.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
