// The agent's side of a session with a manager over mutual-TLS gRPC. It rebuilds the full
// assignment set from the session's complete-then-incremental stream, and moves to the next
// known manager whenever a session fails.
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  stateOrder,
  type AgentSession,
  type Assignment,
  type DispatcherAPI,
  type Labels,
  type NodeDescription,
  type Payload,
  type SessionHandlers,
  type Task,
  type TaskLogLine,
  type TaskStatusUpdate,
} from '../../api/index.js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  DispatcherServiceClient,
  leaderHint,
  managerChannelCredentials,
  type SessionResponse,
  type TlsMaterial,
} from '../../transport/index.js';

/** How long a manager may take to answer a new session with its complete assignment set. */
const SESSION_OPEN_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 5_000;
const CHANNEL_OPTIONS = {
  ...CLUSTER_CHANNEL_OPTIONS,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  // Reconnection is the agent's business (with its own backoff), not the channel's.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

export interface WireTask {
  task: Task;
  serviceName: string;
  serviceLabels: Labels;
}

export interface RemoteDispatcherOptions {
  /** Cluster addresses (host:port) of the managers, in order of preference. */
  managers: string[];
  /** The node's current TLS material (it changes on renewal). */
  tls: () => TlsMaterial;
  /** Told whenever the manager list changes, so it can be kept for the next start. */
  onManagers?: (managers: string[]) => void;
}

export class RemoteDispatcher implements DispatcherAPI {
  #managers: string[];
  #next = 0;
  #client: { addr: string; tls: TlsMaterial; client: DispatcherServiceClient } | undefined;
  #sessionId = '';
  /** The current session's copy of the node's tasks, as the manager last sent each. */
  #tasks = new Map<string, WireTask>();

  constructor(private readonly o: RemoteDispatcherOptions) {
    if (o.managers.length === 0) throw new Error('no manager address to connect to');
    this.#managers = [...o.managers];
  }

  get managers(): readonly string[] {
    return this.#managers;
  }

  /** A channel made with older TLS material, kept open for the session stream still on it. */
  #retired: DispatcherServiceClient | undefined;

  #closed = false;

  #dial(): DispatcherServiceClient {
    // Closed for good: a late call (a status report after the agent stopped) must not open a
    // channel that nothing will close, which would keep the process alive.
    if (this.#closed) throw new Error('the session client is closed');
    const tls = this.o.tls();
    const addr = this.#managers[this.#next % this.#managers.length]!;
    if (this.#client && this.#client.addr === addr && this.#client.tls === tls) return this.#client.client;
    if (this.#client?.addr === addr) {
      // Renewed certificate, same manager: new calls use it, the open session carries on.
      this.#retired?.close();
      this.#retired = this.#client.client;
    } else this.#client?.client.close();
    const client = new DispatcherServiceClient(addr, managerChannelCredentials(tls), CHANNEL_OPTIONS);
    this.#client = { addr, tls, client };
    return client;
  }

  /** The next session goes to the leader the manager named, or else to the next manager. */
  #failover(leader?: string): void {
    if (leader) {
      if (!this.#managers.includes(leader)) this.#managers.push(leader);
      this.#next = this.#managers.indexOf(leader);
    } else this.#next++;
    this.#client?.client.close();
    this.#client = undefined;
    this.#retired?.close();
    this.#retired = undefined;
  }

  openSession(
    _nodeId: string,
    description: NodeDescription,
    addr: string,
    handlers: SessionHandlers,
  ): Promise<AgentSession> {
    const client = this.#dial();
    const tasks = new Map<string, WireTask>();
    const secrets = new Map<string, Payload>();
    const configs = new Map<string, Payload>();
    const stream: ClientReadableStream<SessionResponse> = client.session(
      { descriptionJson: Buffer.from(JSON.stringify(description)), addr },
      new Metadata(),
    );
    return new Promise((resolve, reject) => {
      let opened = false;
      let closed = false;
      const timer = setTimeout(() => {
        stream.cancel();
        fail(new Error(`manager ${this.#client?.addr ?? ''} did not open a session in time`));
      }, SESSION_OPEN_TIMEOUT_MS);
      const fail = (err: Error, leader?: string): void => {
        clearTimeout(timer);
        if (closed) return;
        closed = true;
        this.#failover(leader);
        if (opened) handlers.onClose(err);
        else reject(err);
      };
      stream.on('data', (msg: SessionResponse) => {
        if (msg.complete) {
          tasks.clear();
          secrets.clear();
          configs.clear();
        }
        applyChanges(msg, tasks, secrets, configs);
        this.#tasks = tasks;
        if (msg.rootsPem) handlers.onTlsTarget?.({ rootsPem: msg.rootsPem, issuerPem: msg.issuerPem });
        if (msg.nodeRole === 'manager' || msg.nodeRole === 'worker') handlers.onNodeRole?.(msg.nodeRole);
        this.#sessionId = msg.sessionId;
        if (msg.managers.length > 0 && msg.managers.join() !== this.#managers.join()) {
          this.#managers = [...msg.managers];
          this.#next = 0;
          this.o.onManagers?.(this.#managers);
        }
        if (!opened) {
          opened = true;
          clearTimeout(timer);
          resolve({
            heartbeatMs: msg.heartbeatMs,
            managers: [...this.#managers],
            close: () => {
              closed = true;
              stream.cancel();
            },
          });
        }
        const logsOnly = !msg.complete && msg.changes.length === 0 && msg.logSubscriptions.length > 0;
        if (!logsOnly) handlers.onAssignments(assemble(tasks, secrets, configs));
        for (const sub of msg.logSubscriptions) {
          if (sub.cancel) handlers.onLogCancel?.(sub.id);
          else
            handlers.onLogSubscription?.({
              id: sub.id,
              taskIds: sub.taskIds,
              follow: sub.follow,
              ...(sub.serviceId ? { serviceId: sub.serviceId } : {}),
              ...(sub.tail >= 0 ? { tail: sub.tail } : {}),
              ...(sub.since > 0 ? { since: sub.since } : {}),
            });
        }
      });
      stream.on('error', (e: ServiceError) => {
        if (e.code === status.CANCELLED && closed) return;
        const leader = leaderHint(e);
        fail(Object.assign(new Error(e.details || e.message), { redirect: leader !== undefined }), leader);
      });
      stream.on('end', () => fail(new Error('the manager ended the session')));
    });
  }

  /** Runs a call on the current channel; a closed client rejects instead of throwing. */
  #call<T>(fn: (client: DispatcherServiceClient) => Promise<T>): Promise<T> {
    try {
      return fn(this.#dial());
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  heartbeat(): Promise<{ heartbeatMs: number }> {
    return this.#call(
      (client) =>
        new Promise((resolve, reject) => {
          client.heartbeat(
            { sessionId: this.#sessionId },
            new Metadata(),
            { deadline: Date.now() + CALL_TIMEOUT_MS },
            (err, res) => (err ? reject(new Error(err.details || err.message)) : resolve(res)),
          );
        }),
    );
  }

  updateTaskStatus(_nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void> {
    const tasks = this.#tasks;
    return this.#call(
      (client) =>
        new Promise((resolve, reject) => {
          client.updateTaskStatus(
            {
              sessionId: this.#sessionId,
              updates: updates.map((u) => ({
                taskId: u.taskId,
                statusJson: Buffer.from(JSON.stringify(u.status)),
              })),
            },
            new Metadata(),
            { deadline: Date.now() + CALL_TIMEOUT_MS },
            (err) => {
              if (err) return reject(new Error(err.details || err.message));
              acknowledged(tasks, updates);
              resolve();
            },
          );
        }),
    );
  }

  publishLogs(
    _nodeId: string,
    subscriptionId: string,
    lines: TaskLogLine[],
    done: boolean,
  ): Promise<boolean> {
    return this.#call(
      (client) =>
        new Promise((resolve, reject) => {
          client.publishLogs(
            { sessionId: this.#sessionId, subscriptionId, lines, done },
            new Metadata(),
            { deadline: Date.now() + CALL_TIMEOUT_MS },
            (err) =>
              err
                ? err.code === status.NOT_FOUND
                  ? resolve(false)
                  : reject(new Error(err.details || err.message))
                : resolve(true),
          );
        }),
    );
  }

  close(): void {
    this.#closed = true;
    this.#client?.client.close();
    this.#client = undefined;
    this.#retired?.close();
    this.#retired = undefined;
  }
}

/**
 * The manager does not send a task back for a status its agent reported (no echo), so once a
 * report is taken the session's copy of the task carries it: the agent, comparing the manager's
 * state with its own on every set, would otherwise find every task it has moved on behind and
 * report it again with each message. A report the manager then loses is not this copy's to
 * show: a dispatcher that cannot write it tries again, and one that stops ends the session, whose
 * successor starts with a complete set from the store.
 */
export function acknowledged(tasks: Map<string, WireTask>, updates: readonly TaskStatusUpdate[]): void {
  for (const { taskId, status } of updates) {
    const w = tasks.get(taskId);
    if (!w) continue;
    const from = stateOrder(w.task.Status.State);
    const to = stateOrder(status.State);
    if (to > from || (to === from && w.task.Status.Message !== status.Message))
      tasks.set(taskId, { ...w, task: { ...w.task, Status: status } });
  }
}

function applyChanges(
  msg: SessionResponse,
  tasks: Map<string, WireTask>,
  secrets: Map<string, Payload>,
  configs: Map<string, Payload>,
): void {
  for (const c of msg.changes) {
    const item = c.item;
    if (!item) continue;
    switch (item.$case) {
      case 'task': {
        const task = JSON.parse(Buffer.from(item.value.taskJson).toString('utf8')) as Task;
        const serviceLabels = JSON.parse(
          Buffer.from(item.value.serviceLabelsJson).toString('utf8'),
        ) as Labels;
        tasks.set(task.ID, { task, serviceName: item.value.serviceName, serviceLabels });
        break;
      }
      case 'secret':
        secrets.set(item.value.id, { ...item.value });
        break;
      case 'config':
        configs.set(item.value.id, { ...item.value });
        break;
      case 'taskId':
        tasks.delete(item.value);
        break;
      case 'secretId':
        secrets.delete(item.value);
        break;
      case 'configId':
        configs.delete(item.value);
        break;
    }
  }
}

function assemble(
  tasks: Map<string, WireTask>,
  secrets: Map<string, Payload>,
  configs: Map<string, Payload>,
): Assignment[] {
  return [...tasks.values()].map((w) => {
    const cs = w.task.Spec.ContainerSpec;
    return {
      ...w,
      secrets: (cs?.Secrets ?? []).flatMap((r) => {
        const p = secrets.get(r.SecretID);
        return p ? [p] : [];
      }),
      configs: (cs?.Configs ?? []).flatMap((r) => {
        const p = configs.get(r.ConfigID);
        return p ? [p] : [];
      }),
    };
  });
}
