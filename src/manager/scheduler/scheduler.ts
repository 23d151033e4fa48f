// The scheduler: assigns PENDING tasks to nodes. Pure core (scheduleTasks) plus a loop that feeds
// it pending tasks and writes all decisions of a pass in one transaction.
import { isoTime, type Clock } from '../../platform/index.js';
import type { Node, Task } from '../../api/index.js';
import type { MemoryStore, ReadTx, StoreEvent } from '../../state/index.js';
import { filterNodes, type NodeInfo } from './filters.js';
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
    byId.set(node.ID, { node, tasksByService: new Map(), totalTasks: 0, reservedCPU: 0, reservedMemory: 0 });
  }
  for (const t of tasks) if (occupies(t)) account(byId.get(t.NodeID!), t);
  return [...byId.values()];
}

function account(info: NodeInfo | undefined, t: Task): void {
  if (!info) return;
  info.tasksByService.set(t.ServiceID, (info.tasksByService.get(t.ServiceID) ?? 0) + 1);
  info.totalTasks++;
  info.reservedCPU += t.Spec.Resources?.Reservations?.NanoCPUs ?? 0;
  info.reservedMemory += t.Spec.Resources?.Reservations?.MemoryBytes ?? 0;
}

function spreadValue(info: NodeInfo, descriptor: string): string {
  const n = info.node;
  if (descriptor.startsWith('node.labels.')) return n.Spec.Labels?.[descriptor.slice(12)] ?? '';
  if (descriptor.startsWith('engine.labels.'))
    return n.Description.Engine.Labels?.[descriptor.slice(14)] ?? '';
  if (descriptor === 'node.id') return n.ID;
  if (descriptor === 'node.hostname') return n.Description.Hostname;
  if (descriptor === 'node.role') return n.Spec.Role ?? '';
  if (descriptor === 'node.platform.os') return n.Description.Platform.OS;
  return n.Description.Platform.Architecture;
}

/**
 * Picks a node among candidates: placement preferences first (the label value with the fewest
 * tasks of this service, level by level), then the node with the fewest tasks of this service,
 * then the fewest tasks overall.
 */
function pick(task: Task, candidates: NodeInfo[], all: readonly NodeInfo[]): NodeInfo {
  let pool = candidates;
  for (const pref of task.Spec.Placement?.Preferences ?? []) {
    const d = pref.Spread?.SpreadDescriptor;
    if (!d) continue;
    const load = new Map<string, number>();
    for (const info of all) {
      const v = spreadValue(info, d);
      load.set(v, (load.get(v) ?? 0) + (info.tasksByService.get(task.ServiceID) ?? 0));
    }
    const best = Math.min(...pool.map((i) => load.get(spreadValue(i, d)) ?? 0));
    pool = pool.filter((i) => (load.get(spreadValue(i, d)) ?? 0) === best);
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
    const { ok, reason } = filterNodes(task, pool);
    if (ok.length === 0) {
      out.push({ taskId: task.ID, reason: reason ?? 'no suitable node' });
      continue;
    }
    const chosen = task.NodeID ? ok[0]! : pick(task, ok, infos);
    account(chosen, { ...task, NodeID: chosen.node.ID, Status: { ...task.Status, State: 'assigned' } });
    out.push({ taskId: task.ID, nodeId: chosen.node.ID });
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
