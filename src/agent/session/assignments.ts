// The agent's side of the session protocol, whatever carries it (remote.ts over gRPC, the
// simulator's link): rebuilds the node's full assignment set from a session's complete-then-
// incremental messages and tells the agent's handlers what each message brought.
import {
  stateOrder,
  type Assignment,
  type Labels,
  type NetworkView,
  type Payload,
  type SessionHandlers,
  type SessionMessage,
  type Task,
  type TaskStatusUpdate,
} from '../../api/index.js';

/** A task as the session holds it, without the payloads (assembled per set). */
export interface SessionTask {
  task: Task;
  serviceName: string;
  serviceLabels: Labels;
  registryAuth?: string;
}

/** One session's copy of the node's assignments. */
export class SessionAssignments {
  readonly tasks = new Map<string, SessionTask>();
  readonly #secrets = new Map<string, Payload>();
  readonly #configs = new Map<string, Payload>();
  /** The views of the overlay networks the node needs, by network ID. */
  readonly networks = new Map<string, NetworkView>();
  /** The session the messages came from, for heartbeats and reports to name. */
  sessionId = '';

  /**
   * Applies a message and tells the handlers: its news (trust, role), then the network views when
   * they changed (always on a complete message), then the set when it may have changed, then log
   * notices. `between` runs after the news and before the set (the
   * carrier answers the session's opening there, so the agent holds the session when the set lands).
   */
  receive(msg: SessionMessage, handlers: SessionHandlers, between?: () => void): void {
    this.apply(msg);
    if (msg.tls) handlers.onTlsTarget?.(msg.tls);
    if (msg.nodeRole !== '') handlers.onNodeRole?.(msg.nodeRole);
    between?.();
    const netChanges = msg.changes.filter((c) => c.kind === 'network' || c.kind === 'removeNetwork').length;
    if (msg.complete || netChanges > 0) handlers.onNetworks?.(this.views());
    // A message of only network views or only log notices leaves the set as it was.
    const setUnchanged =
      !msg.complete && msg.changes.length === netChanges && (netChanges > 0 || msg.logs.length > 0);
    if (!setUnchanged) handlers.onAssignments(this.set());
    for (const n of msg.logs)
      if (n.kind === 'cancel') handlers.onLogCancel?.(n.id);
      else handlers.onLogSubscription?.(n.sub);
  }

  apply(msg: SessionMessage): void {
    this.sessionId = msg.sessionId;
    if (msg.complete) {
      this.tasks.clear();
      this.#secrets.clear();
      this.#configs.clear();
      this.networks.clear();
    }
    for (const c of msg.changes)
      switch (c.kind) {
        case 'task':
          this.tasks.set(c.task.ID, {
            task: c.task,
            serviceName: c.serviceName,
            serviceLabels: c.serviceLabels,
            ...(c.registryAuth ? { registryAuth: c.registryAuth } : {}),
          });
          break;
        case 'secret':
          this.#secrets.set(c.payload.id, c.payload);
          break;
        case 'config':
          this.#configs.set(c.payload.id, c.payload);
          break;
        case 'removeTask':
          this.tasks.delete(c.id);
          break;
        case 'removeSecret':
          this.#secrets.delete(c.id);
          break;
        case 'removeConfig':
          this.#configs.delete(c.id);
          break;
        case 'network':
          this.networks.set(c.view.id, c.view);
          break;
        case 'removeNetwork':
          this.networks.delete(c.id);
          break;
      }
  }

  /** The network views, sorted by network ID (as the dispatcher computes them). */
  views(): NetworkView[] {
    return [...this.networks.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The full set: each task with the payloads it references that the session holds. */
  set(): Assignment[] {
    return [...this.tasks.values()].map((w) => {
      const cs = w.task.Spec.ContainerSpec;
      return {
        ...w,
        secrets: (cs?.Secrets ?? []).flatMap((r) => {
          const p = this.#secrets.get(r.SecretID);
          return p ? [p] : [];
        }),
        configs: (cs?.Configs ?? []).flatMap((r) => {
          const p = this.#configs.get(r.ConfigID);
          return p ? [p] : [];
        }),
      };
    });
  }

  /**
   * The manager does not send a task back for a status its agent reported (no echo), so once a
   * report is taken the session's copy of the task carries it: the agent, comparing the manager's
   * state with its own on every set, would otherwise find every task it has moved on behind and
   * report it again with each message. A report the manager then loses is not this copy's to
   * show: a dispatcher that cannot write it tries again, and one that stops ends the session,
   * whose successor starts with a complete set from the store.
   */
  acknowledged(updates: readonly TaskStatusUpdate[]): void {
    for (const { taskId, status } of updates) {
      const w = this.tasks.get(taskId);
      if (!w) continue;
      const from = stateOrder(w.task.Status.State);
      const to = stateOrder(status.State);
      if (to > from || (to === from && w.task.Status.Message !== status.Message))
        this.tasks.set(taskId, { ...w, task: { ...w.task, Status: status } });
    }
  }
}
