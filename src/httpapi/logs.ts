// Service and task logs in Docker's stdcopy framing, each line prefixed with its task's details
// (com.docker.swarm.node.id=..,service.id=..,task.id=..) as the docker CLI requires.
import type { FastifyReply } from 'fastify';
import { invalidArgument, type Task, type TaskLogLine } from '../api/index.js';
import type { LogLine } from '../agent/index.js';
import { queryBool } from './query.js';
import type { Daemon } from '../daemon/index.js';

type Q = Record<string, string | undefined>;
const bool = queryBool;

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
/** `tail`: "all" (or empty) or a number of lines; a negative number means all, as in Docker. */
function parseTail(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v === 'all') return undefined;
  if (!/^-?\d{1,15}$/.test(v))
    throw invalidArgument(`invalid tail value "${v}": use a number of lines or "all"`);
  const n = Number(v);
  return n < 0 ? undefined : n;
}

/** `since`: Unix seconds with an optional fraction, as the docker CLI sends it. */
function parseSince(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,12}(\.\d{1,9})?$/.test(v))
    throw invalidArgument(`could not parse since timestamp "${v}": use Unix seconds, e.g. 1700000000.5`);
  return Number(v);
}

export async function streamLogs(
  d: Daemon,
  reply: FastifyReply,
  tasks: readonly Task[],
  p: Q,
  serviceId?: string,
): Promise<void> {
  const executor = d.executor;
  const follow = bool(p.follow);
  const tail = parseTail(p.tail);
  const since = parseSince(p.since);
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
  // Tasks on other nodes: their agents send the lines through the leader's log broker.
  const tasksByNode = new Map<string, string[]>();
  for (const t of tasks)
    if (t.NodeID && t.NodeID !== d.nodeId)
      tasksByNode.set(t.NodeID, [...(tasksByNode.get(t.NodeID) ?? []), t.ID]);
  const known = new Map(tasks.map((t) => [t.ID, t]));
  /** The task a line is from; following a service, one that started since is looked up. */
  const taskOf = (id: string): Task | undefined => {
    let t = known.get(id);
    if (!t && follow && serviceId && d.state === 'active') {
      t = d.manager.store.view((tx) => tx.get('tasks', id));
      if (t?.ServiceID !== serviceId) return undefined;
      known.set(id, t);
    }
    return t;
  };
  const render = (t: Task, l: LogLine): Buffer | undefined => {
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
  const tailN = tail;
  const askRemote = tasksByNode.size > 0 || (follow && serviceId !== undefined);
  /** Asks the other nodes; `onEnd` once they have all answered (following: if the leader goes). */
  const remote = (onLines: (lines: readonly TaskLogLine[]) => void, onEnd: () => void): (() => void) => {
    if (!askRemote) {
      // Nothing to ask: without follow that is the end at once; a follow goes on locally.
      if (!follow) onEnd();
      return () => undefined;
    }
    return d.remoteLogs(
      {
        tasksByNode,
        follow,
        ...(d.nodeId ? { excludeNode: d.nodeId } : {}),
        ...(serviceId !== undefined ? { serviceId } : {}),
        ...(tailN !== undefined ? { tail: tailN } : {}),
        ...(since !== undefined ? { since } : {}),
      },
      { lines: onLines, end: onEnd },
    );
  };
  const logs = executor?.logs?.bind(executor);
  const opts = (signal: AbortSignal) => ({
    follow,
    signal,
    ...(tailN !== undefined ? { tail: tailN } : {}),
    ...(since !== undefined ? { since } : {}),
  });
  if (!follow) {
    // Gather every task's lines, here and from the other nodes, then write them in time order.
    const all: { t: Task; l: LogLine }[] = [];
    const fromOthers = new Promise<void>((resolve) => {
      const cancel = remote((lines) => {
        for (const l of lines) {
          const t = taskOf(l.taskId);
          if (t) all.push({ t, l });
        }
      }, resolve);
      ac.signal.addEventListener('abort', () => {
        cancel();
        resolve();
      });
    });
    for (const t of logs ? mine : []) {
      try {
        for await (const l of logs!(t.ID, opts(ac.signal))) all.push({ t, l });
      } catch {
        /* a container that is gone has no logs */
      }
    }
    await fromOthers;
    all.sort((a, b) => a.l.timestamp.localeCompare(b.l.timestamp));
    for (const { t, l } of all) {
      const b = render(t, l);
      if (b && !res.destroyed) res.write(b);
    }
    res.end();
    return;
  }
  const cancelRemote = remote(
    (lines) => {
      for (const l of lines) {
        const t = taskOf(l.taskId);
        const b = t && render(t, l);
        if (b && !res.destroyed) res.write(b);
      }
    },
    // The leader stopped leading: the stream ends, as a manager's does when it leaves.
    () => ac.abort(),
  );
  const followed = new Set<string>();
  const pumps: Promise<void>[] = [];
  const pump = (t: Task, fromStart: boolean): void => {
    if (followed.has(t.ID) || !logs) return;
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
  let unsubscribe: (() => void) | undefined;
  if (serviceId && d.state === 'active') {
    unsubscribe = d.manager.store.subscribe((e) => {
      if (e.kind !== 'change' || e.change.table !== 'tasks') return;
      const t = e.change.object as Task;
      if (t.ServiceID === serviceId && t.NodeID === d.nodeId && t.Status.State === 'running') pump(t, true);
    });
  }
  await new Promise<void>((resolve) => {
    if (ac.signal.aborted) resolve();
    else ac.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  unsubscribe?.();
  cancelRemote();
  await Promise.all(pumps);
  res.end();
}
