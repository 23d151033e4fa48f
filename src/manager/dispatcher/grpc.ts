// The dispatcher's gRPC face: agent sessions from other nodes. Each session stream starts with
// the node's complete assignment set and then carries only what changed (tasks, and the secrets
// and configs those tasks reference). Every call authenticates its caller from its certificate;
// the node ID always comes from the certificate, never from the request.
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import {
  newId,
  ShoalError,
  type Assignment,
  type AgentSession,
  type NodeDescription,
  type Task,
  type TaskStatus,
} from '../../api/index.js';
import {
  AssignmentChange_Action,
  authorize,
  unary,
  toServiceError,
  type AssignmentChange,
  type DispatcherServiceServer,
  type LogSubscription as WireLogSubscription,
  type PeerPolicy,
  type SessionRequest,
  type SessionResponse,
} from '../../transport/index.js';
import { statusOnlyChange, type Dispatcher } from './index.js';

/** A session whose client stops reading is dropped (it reconnects and gets a complete set). */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

const UPDATE = AssignmentChange_Action.ACTION_UPDATE;
const REMOVE = AssignmentChange_Action.ACTION_REMOVE;

/**
 * What a session has sent so far, to send only differences. A task is identified by its store
 * version (a stored task never changes without a new one): diffing a node's whole set by the
 * tasks' JSON on every change re-serialized every task the node holds (O(n²) while a service of
 * n tasks starts on one node). A task whose version moved is sent again only if more than its
 * status changed: a status the agent reported is not echoed back to it (`statusOnlyChange`).
 */
export class SentState {
  /** Per task: the store copy last seen (sent, or differing from the sent one only in status) and its service's part. */
  tasks = new Map<string, { task: Task; version: number | undefined; service: string }>();
  secrets = new Set<string>();
  configs = new Set<string>();

  diff(set: Assignment[]): AssignmentChange[] {
    const changes: AssignmentChange[] = [];
    const tasks = new Map<string, { task: Task; version: number | undefined; service: string }>();
    const secrets = new Map<string, Assignment['secrets'][number]>();
    const configs = new Map<string, Assignment['configs'][number]>();
    for (const a of set) {
      for (const s of a.secrets) secrets.set(s.id, s);
      for (const c of a.configs) configs.set(c.id, c);
    }
    // Payloads before the tasks that use them, removals after.
    for (const [id, s] of secrets)
      if (!this.secrets.has(id))
        changes.push({
          action: UPDATE,
          item: { $case: 'secret', value: { ...s, data: Buffer.from(s.data) } },
        });
    for (const [id, c] of configs)
      if (!this.configs.has(id))
        changes.push({
          action: UPDATE,
          item: { $case: 'config', value: { ...c, data: Buffer.from(c.data) } },
        });
    for (const a of set) {
      const version = a.task.Version?.Index;
      const service = `${a.serviceName}\0${JSON.stringify(a.serviceLabels)}`;
      const entry = { task: a.task, version, service };
      tasks.set(a.task.ID, entry);
      const had = this.tasks.get(a.task.ID);
      if (had && had.service === service) {
        if (
          version !== undefined
            ? had.version === version
            : JSON.stringify(had.task) === JSON.stringify(a.task)
        )
          continue;
        if (statusOnlyChange(had.task, a.task)) continue;
      }
      changes.push({
        action: UPDATE,
        item: {
          $case: 'task',
          value: {
            taskJson: Buffer.from(JSON.stringify(a.task)),
            serviceName: a.serviceName,
            serviceLabelsJson: Buffer.from(JSON.stringify(a.serviceLabels)),
          },
        },
      });
    }
    for (const id of this.tasks.keys())
      if (!tasks.has(id)) changes.push({ action: REMOVE, item: { $case: 'taskId', value: id } });
    for (const id of this.secrets)
      if (!secrets.has(id)) changes.push({ action: REMOVE, item: { $case: 'secretId', value: id } });
    for (const id of this.configs)
      if (!configs.has(id)) changes.push({ action: REMOVE, item: { $case: 'configId', value: id } });
    this.tasks = tasks;
    this.secrets = new Set(secrets.keys());
    this.configs = new Set(configs.keys());
    return changes;
  }
}

function parseJson<T>(buf: Uint8Array, what: string): T {
  try {
    const v = JSON.parse(Buffer.from(buf).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch (e) {
    throw new ShoalError('InvalidArgument', `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** `dispatcher` returns the leader's dispatcher, or throws a not-leader error naming the leader. */
/** Ends a session stream with a status (grpc-js sends an emitted error as the call's status). */
function fail(
  call: ServerWritableStream<SessionRequest, SessionResponse>,
  err: { code: status; details: string },
): void {
  call.emit('error', Object.assign(new Error(err.details), err));
}

export function dispatcherService(
  dispatcher: () => Dispatcher,
  policy: PeerPolicy,
  log: (msg: string) => void,
): DispatcherServiceServer {
  /** The current session of each node; a newer session supersedes an older one. */
  const current = new Map<string, string>();

  const checkSession = (nodeId: string, sessionId: string): void => {
    if (current.get(nodeId) !== sessionId)
      throw new ShoalError('NotFound', 'session invalid: open a new session');
  };

  return {
    session(call: ServerWritableStream<SessionRequest, SessionResponse>): void {
      let nodeId: string;
      let description: NodeDescription;
      let d: Dispatcher;
      try {
        nodeId = authorize(call, policy, ['worker', 'manager']).nodeId;
        description = parseJson<NodeDescription>(call.request.descriptionJson, 'description');
        d = dispatcher();
      } catch (e) {
        fail(call, toServiceError(e, log));
        return;
      }
      const sessionId = newId();
      current.set(nodeId, sessionId);
      const sent = new SentState();
      let first = true;
      let tls = { rootsPem: '', issuerPem: '' };
      let tlsSent = false;
      let role = '';
      let handle: AgentSession | undefined;
      let ended = false;
      /** Log subscriptions for the next message. */
      const heldLogs: WireLogSubscription[] = [];
      const end = (): void => {
        if (ended) return;
        ended = true;
        handle?.close();
        if (current.get(nodeId) === sessionId) {
          current.delete(nodeId);
          d.sessionLost(nodeId);
        }
      };
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
      d.openSession(nodeId, description, call.request.addr, {
        onAssignments: (set) => {
          if (ended) return;
          const changes = sent.diff(set);
          if (!first && changes.length === 0) return;
          write(changes);
        },
        onTlsTarget: (t) => {
          tls = t;
          tlsSent = false;
          if (!first) write([]);
        },
        onNodeRole: (r) => {
          role = r;
          if (!first) write([]);
        },
        // Held until the first message (the complete assignment set) when they come before it.
        onLogSubscription: (sub) =>
          writeLogs({
            id: sub.id,
            taskIds: sub.taskIds,
            serviceId: sub.serviceId ?? '',
            follow: sub.follow,
            tail: sub.tail ?? -1,
            since: sub.since ?? 0,
            cancel: false,
          }),
        onLogCancel: (id) =>
          writeLogs({ id, taskIds: [], serviceId: '', follow: false, tail: 0, since: 0, cancel: true }),
        onClose: () => call.end(),
      }).then(
        (h) => {
          handle = h;
          if (ended) h.close();
        },
        (e: unknown) => {
          fail(call, toServiceError(e, log));
          end();
        },
      );
      function writeLogs(sub: WireLogSubscription): void {
        heldLogs.push(sub);
        if (!first) write([]);
      }
      function write(changes: AssignmentChange[]): void {
        if (ended) return;
        if (call.writableLength > MAX_BUFFERED_BYTES) {
          log(`dropping the session of node ${nodeId}: it is not reading its assignments`);
          fail(call, { code: status.RESOURCE_EXHAUSTED, details: 'too far behind' });
          return;
        }
        call.write({
          sessionId,
          heartbeatMs: d.heartbeatMs,
          managers: d.managers(),
          complete: first,
          changes,
          ...(tlsSent ? { rootsPem: '', issuerPem: '' } : tls),
          nodeRole: role,
          logSubscriptions: heldLogs.splice(0),
        });
        tlsSent = true;
        first = false;
      }
    },

    heartbeat: unary(async (call) => {
      const { nodeId } = authorize(call, policy, ['worker', 'manager']);
      const d = dispatcher();
      checkSession(nodeId, call.request.sessionId);
      return { heartbeatMs: (await d.heartbeat(nodeId)).heartbeatMs };
    }, log),

    publishLogs: unary(async (call) => {
      const { nodeId } = authorize(call, policy, ['worker', 'manager']);
      const d = dispatcher();
      checkSession(nodeId, call.request.sessionId);
      const lines = call.request.lines.map((l) => ({
        taskId: l.taskId,
        stream: l.stream === 2 ? (2 as const) : (1 as const),
        timestamp: l.timestamp,
        line: l.line,
      }));
      if (!(await d.publishLogs(nodeId, call.request.subscriptionId, lines, call.request.done)))
        throw new ShoalError('NotFound', 'no such log subscription: its subscriber has gone');
      return {};
    }, log),

    updateTaskStatus: unary(async (call) => {
      const { nodeId } = authorize(call, policy, ['worker', 'manager']);
      const d = dispatcher();
      checkSession(nodeId, call.request.sessionId);
      const updates = call.request.updates.map((u) => ({
        taskId: u.taskId,
        status: parseJson<TaskStatus>(u.statusJson, 'task status'),
      }));
      await d.updateTaskStatus(nodeId, updates);
      return {};
    }, log),
  };
}
