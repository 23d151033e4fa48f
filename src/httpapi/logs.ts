// Service and task logs in Docker's stdcopy framing, each line prefixed with its task's details
// (com.docker.swarm.node.id=..,service.id=..,task.id=..) as the docker CLI requires.
import type { FastifyReply } from 'fastify';
import type { Task } from '../api/index.js';
import type { Daemon } from '../node/index.js';

type Q = Record<string, string | undefined>;
const bool = (v: string | undefined): boolean => v === '1' || v === 'true';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/**
 * Writes the logs of `tasks`. With follow and a `serviceId`, tasks of that service that start
 * while the client follows (a rolling update, a restart, a scale-up) are followed too, from their
 * first line, until the client goes away.
 */
export async function streamLogs(
  d: Daemon,
  reply: FastifyReply,
  tasks: readonly Task[],
  p: Q,
  serviceId?: string,
): Promise<void> {
  const executor = d.executor;
  const follow = bool(p.follow);
  const tail = p.tail === undefined || p.tail === 'all' || p.tail === '' ? undefined : Number(p.tail);
  const since = p.since ? Number(p.since) : undefined;
  const wantOut = p.stdout === undefined || bool(p.stdout);
  const wantErr = p.stderr === undefined || bool(p.stderr);
  const timestamps = bool(p.timestamps);
  const details = bool(p.details);
  reply.hijack();
  const res = reply.raw;
  // No Content-Type: the CLI demultiplexes the raw stream.
  res.writeHead(200, {
    'Api-Version': '1.41',
    'Docker-Experimental': 'false',
    Ostype: 'linux',
  });
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  const mine = tasks.filter((t) => t.NodeID === d.nodeId && t.Status.ContainerStatus?.ContainerID);
  const render = (t: Task, l: { stream: 1 | 2; timestamp: string; line: string }): Buffer | undefined => {
    if ((l.stream === 1 && !wantOut) || (l.stream === 2 && !wantErr)) return undefined;
    const parts: string[] = [];
    if (timestamps) parts.push(l.timestamp);
    if (details)
      parts.push(
        `com.docker.swarm.node.id=${t.NodeID ?? ''},com.docker.swarm.service.id=${t.ServiceID},com.docker.swarm.task.id=${t.ID}`,
      );
    parts.push(l.line);
    return frame(l.stream, `${parts.join(' ')}\n`);
  };
  if (!executor?.logs) return void res.end();
  const logs = executor.logs.bind(executor);
  const opts = (signal: AbortSignal) => ({
    follow,
    signal,
    ...(tail !== undefined && Number.isFinite(tail) ? { tail } : {}),
    ...(since !== undefined ? { since } : {}),
  });
  if (!follow) {
    // Gather every task's lines, then write them in time order.
    const all: { t: Task; l: { stream: 1 | 2; timestamp: string; line: string } }[] = [];
    for (const t of mine) {
      try {
        for await (const l of logs(t.ID, opts(ac.signal))) all.push({ t, l });
      } catch {
        /* a container that is gone has no logs */
      }
    }
    all.sort((a, b) => a.l.timestamp.localeCompare(b.l.timestamp));
    for (const { t, l } of all) {
      const b = render(t, l);
      if (b) res.write(b);
    }
    res.end();
    return;
  }
  const followed = new Set<string>();
  const pumps: Promise<void>[] = [];
  const pump = (t: Task, fromStart: boolean): void => {
    if (followed.has(t.ID)) return;
    followed.add(t.ID);
    const o = fromStart ? { follow: true, signal: ac.signal } : opts(ac.signal);
    pumps.push(
      (async () => {
        try {
          for await (const l of logs(t.ID, o)) {
            const b = render(t, l);
            if (b && !res.destroyed) res.write(b);
          }
        } catch {
          /* closed */
        }
      })(),
    );
  };
  for (const t of mine) pump(t, false);
  if (serviceId && d.state === 'active') {
    const unsubscribe = d.manager.store.subscribe((e) => {
      if (e.kind !== 'change' || e.change.table !== 'tasks') return;
      const t = e.change.object as Task;
      if (t.ServiceID === serviceId && t.NodeID === d.nodeId && t.Status.State === 'running') pump(t, true);
    });
    await new Promise<void>((resolve) => {
      if (ac.signal.aborted) resolve();
      else ac.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    unsubscribe();
  }
  await Promise.all(pumps);
  res.end();
}
