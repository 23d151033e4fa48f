// The dispatcher's gRPC face: agent sessions from other nodes. Each session stream starts with
// the node's complete assignment set and then carries only what changed (tasks, and the secrets
// and configs those tasks reference). Every call authenticates its caller from its certificate;
// the node ID always comes from the certificate, never from the request.
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import {
  newId,
  type Assignment,
  type AgentSession,
  type NodeDescription,
  type TaskStatus,
} from '../../api/index.js';
import {
  AssignmentChange_Action,
  RpcError,
  authorize,
  unary,
  toServiceError,
  type AssignmentChange,
  type DispatcherServiceServer,
  type PeerPolicy,
  type SessionRequest,
  type SessionResponse,
} from '../../transport/index.js';
import type { Dispatcher } from './index.js';

/** A session whose client stops reading is dropped (it reconnects and gets a complete set). */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

const UPDATE = AssignmentChange_Action.ACTION_UPDATE;
const REMOVE = AssignmentChange_Action.ACTION_REMOVE;

/**
 * A task's JSON. Stored tasks are frozen and never change, so each is serialized once: diffing a
 * node's whole assignment set on every change re-serialized every task it holds (O(n²) while a
 * service of n tasks starts on one node).
 */
const jsonOfFrozen = new WeakMap<object, string>();
function taskJson(task: Assignment['task']): string {
  if (!Object.isFrozen(task)) return JSON.stringify(task);
  let json = jsonOfFrozen.get(task);
  if (json === undefined) jsonOfFrozen.set(task, (json = JSON.stringify(task)));
  return json;
}

/** What a session has sent so far, to send only differences. */
class SentState {
  tasks = new Map<string, string>();
  secrets = new Set<string>();
  configs = new Set<string>();

  diff(set: Assignment[]): AssignmentChange[] {
    const changes: AssignmentChange[] = [];
    const tasks = new Map<string, string>();
    const secrets = new Map<string, Assignment['secrets'][number]>();
    const configs = new Map<string, Assignment['configs'][number]>();
    for (const a of set) {
      tasks.set(a.task.ID, taskJson(a.task) + '\0' + a.serviceName + '\0' + JSON.stringify(a.serviceLabels));
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
      const key = tasks.get(a.task.ID)!;
      if (this.tasks.get(a.task.ID) === key) continue;
      changes.push({
        action: UPDATE,
        item: {
          $case: 'task',
          value: {
            taskJson: Buffer.from(taskJson(a.task)),
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
    throw new RpcError(status.INVALID_ARGUMENT, `${what} is not valid JSON: ${(e as Error).message}`);
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
      throw new RpcError(status.NOT_FOUND, 'session invalid: open a new session');
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
