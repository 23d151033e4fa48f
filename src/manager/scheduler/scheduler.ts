// The scheduler: assigns PENDING tasks to nodes. Pure core (scheduleTasks) plus a loop that feeds
// it pending tasks and writes all decisions of a pass in one transaction.
import { isoTime, type Clock } from '../../platform/index.js';
import type { GenericResource, Node, Task } from '../../api/index.js';
import type { MemoryStore, ReadTx, StoreEvent } from '../../state/index.js';
import { filterNodes, hostPortKeys, type NodeInfo } from './filters.js';
import { claim, hold, poolOf, requestsOf } from './generic.js';
import { WatchLoop } from '../watchloop.js';

const ACTIVE_STATES = new Set(['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running']);

function occupies(t: Task): boolean {
  return (
    t.NodeID !== undefined &&
    ACTIVE_STATES.has(t.Status.State) &&
    t.DesiredState !== 'shutdown' &&
    t.DesiredState !== 'remove'
  );
}

export function nodeInfos(nodes: readonly Node[], tasks: readonly Task[]): NodeInfo[] {
  const byId = new Map<string, NodeInfo>();
  for (const node of nodes) {
    byId.set(node.ID, {
      node,
      tasksByService: new Map(),
      totalTasks: 0,
      reservedCPU: 0,
      reservedMemory: 0,
      generic: poolOf(node.Description.Resources.GenericResources),
      hostPorts: new Set(),
    });
  }
  for (const t of tasks) {
    const info = t.NodeID !== undefined ? byId.get(t.NodeID) : undefined;
    if (!info || !ACTIVE_STATES.has(t.Status.State)) continue;
    if (occupies(t)) count(info, t);
    // A task being stopped still holds its generic resources (a GPU) until its container is gone,
    // as in swarmkit: handing a named item to a new task before that would share the device.
    hold(info.generic, t);
    // Its port too: the engine frees it only with the container.
    for (const k of hostPortKeys(t)) info.hostPorts.add(k);
  }
  return [...byId.values()];
}

function count(info: NodeInfo, t: Task): void {
  info.tasksByService.set(t.ServiceID, (info.tasksByService.get(t.ServiceID) ?? 0) + 1);
  info.totalTasks++;
  info.reservedCPU += t.Spec.Resources?.Reservations?.NanoCPUs ?? 0;
  info.reservedMemory += t.Spec.Resources?.Reservations?.MemoryBytes ?? 0;
}

const NODE_LABEL = 'node.labels.';
const ENGINE_LABEL = 'engine.labels.';

/**
 * A node's value for a spread descriptor, as Swarm reads it: node and engine labels (prefix in
 * any case), a node without the label in the group "". Other descriptors spread over nothing.
 */
function spreadValue(info: NodeInfo, descriptor: string): string | undefined {
  const lower = descriptor.toLowerCase();
  if (lower.startsWith(NODE_LABEL) && descriptor.length > NODE_LABEL.length)
    return info.node.Spec.Labels?.[descriptor.slice(NODE_LABEL.length)] ?? '';
  if (lower.startsWith(ENGINE_LABEL) && descriptor.length > ENGINE_LABEL.length)
    return info.node.Description.Engine.Labels?.[descriptor.slice(ENGINE_LABEL.length)] ?? '';
  return undefined;
}

/**
 * Picks a node among candidates: placement preferences first (the label value with the fewest
 * tasks of this service, level by level), then the node with the fewest tasks of this service,
 * then the fewest tasks overall.
 */
function pick(task: Task, candidates: NodeInfo[], all: readonly NodeInfo[]): NodeInfo {
  let pool = candidates;
  for (const pref of task.Spec.Placement?.Preferences ?? []) {
    const d = pref.Spread?.SpreadDescriptor ?? '';
    if (all[0] === undefined || spreadValue(all[0], d) === undefined) continue;
    const value = (i: NodeInfo): string => spreadValue(i, d)!;
    const load = new Map<string, number>();
    for (const info of all) {
      const v = value(info);
      load.set(v, (load.get(v) ?? 0) + (info.tasksByService.get(task.ServiceID) ?? 0));
    }
    const best = Math.min(...pool.map((i) => load.get(value(i)) ?? 0));
    pool = pool.filter((i) => (load.get(value(i)) ?? 0) === best);
  }
  return pool.reduce((a, b) => {
    const sa = a.tasksByService.get(task.ServiceID) ?? 0;
    const sb = b.tasksByService.get(task.ServiceID) ?? 0;
    if (sa !== sb) return sa < sb ? a : b;
    if (a.totalTasks !== b.totalTasks) return a.totalTasks < b.totalTasks ? a : b;
    return a.node.ID < b.node.ID ? a : b;
  });
}

export interface Decision {
  taskId: string;
  nodeId?: string;
  /** The node's generic resources the task is given, when it asked for some. */
  generic?: GenericResource[];
  /** Why the task stays pending, when it does. */
  reason?: string;
}

/** Decides placements for pending tasks against the given nodes and already-placed tasks. Pure. */
export function scheduleTasks(
  pending: readonly Task[],
  nodes: readonly Node[],
  tasks: readonly Task[],
): Decision[] {
  const infos = nodeInfos(nodes, tasks);
  const byNode = new Map(infos.map((i) => [i.node.ID, i]));
  const out: Decision[] = [];
  for (const task of pending) {
    // Global tasks are bound to their node already; they only need it to fit.
    const pool = task.NodeID ? (byNode.has(task.NodeID) ? [byNode.get(task.NodeID)!] : []) : infos;
    const { ok, reason } = filterNodes(task, pool, pool.length === 1 && task.NodeID !== undefined);
    if (ok.length === 0) {
      out.push({ taskId: task.ID, reason: reason || 'no suitable node' });
      continue;
    }
    const chosen = task.NodeID ? ok[0]! : pick(task, ok, infos);
    count(chosen, task);
    for (const k of hostPortKeys(task)) chosen.hostPorts.add(k);
    const generic = requestsOf(task).length > 0 ? claim(chosen.generic, requestsOf(task)) : undefined;
    out.push({ taskId: task.ID, nodeId: chosen.node.ID, ...(generic ? { generic } : {}) });
  }
  return out;
}

export class Scheduler {
  #pendingSeen = false;
  readonly #loop: WatchLoop;

  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    log: (msg: string) => void = () => undefined,
  ) {
    this.#loop = new WatchLoop({
      store,
      onEvent: (e) => this.#onEvent(e),
      pass: () => this.store.update((tx) => this.#decide(tx)),
      onError: (e) => log(`scheduler pass failed: ${(e as Error).message}`),
    });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): void {
    this.#loop.stop();
  }

  #onEvent(e: StoreEvent): void {
    // New pending tasks, freed capacity, or node changes can all make a placement possible.
    if (e.kind === 'change') {
      if (e.change.table === 'nodes' || e.change.table === 'tasks') this.#pendingSeen = true;
      return;
    }
    if (this.#pendingSeen) {
      this.#pendingSeen = false;
      this.#loop.kick();
    }
  }

  #decide(tx: ReadTx & { update: (t: 'tasks', o: Task) => void }): void {
    const all = tx.all('tasks');
    const pending = all
      .filter(
        (t) => t.Status.State === 'pending' && t.DesiredState !== 'shutdown' && t.DesiredState !== 'remove',
      )
      .slice(0, 1000);
    if (pending.length === 0) return;
    const nodes = tx.all('nodes');
    const now = isoTime(this.clock.now());
    for (const d of scheduleTasks(pending, nodes, all)) {
      const t = tx.get('tasks', d.taskId)!;
      if (d.nodeId) {
        tx.update('tasks', {
          ...t,
          ...(d.generic ? { GenericResources: d.generic } : {}),
          NodeID: d.nodeId,
          UpdatedAt: now,
          Status: {
            Timestamp: now,
            State: 'assigned',
            Message: 'scheduler assigned task to node',
            PortStatus: t.Status.PortStatus,
          },
        });
      } else if (t.Status.Err !== d.reason) {
        tx.update('tasks', { ...t, UpdatedAt: now, Status: { ...t.Status, Timestamp: now, Err: d.reason! } });
      }
    }
  }
}
