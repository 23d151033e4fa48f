// The dispatcher's gRPC face: a thin adapter over the session protocol (session.ts). Every call
// authenticates its caller from its certificate; the node ID always comes from the certificate,
// never from the request.
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { ShoalError, type NodeDescription, type TaskStatus } from '../../api/index.js';
import {
  authorize,
  unary,
  toServiceError,
  toWireSession,
  type DispatcherServiceServer,
  type PeerPolicy,
  type SessionRequest,
  type SessionResponse,
} from '../../transport/index.js';
import type { Dispatcher } from './index.js';
import { ServedSession, SessionTable } from './session.js';

/** A session whose client stops reading is dropped (it reconnects and gets a complete set). */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

function parseJson<T>(buf: Uint8Array, what: string): T {
  try {
    const v = JSON.parse(Buffer.from(buf).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch (e) {
    throw new ShoalError('InvalidArgument', `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Ends a session stream with a status (grpc-js sends an emitted error as the call's status). */
function fail(
  call: ServerWritableStream<SessionRequest, SessionResponse>,
  err: { code: status; details: string },
): void {
  call.emit('error', Object.assign(new Error(err.details), err));
}

/** `dispatcher` returns the leader's dispatcher, or throws a not-leader error naming the leader. */
export function dispatcherService(
  dispatcher: () => Dispatcher,
  policy: PeerPolicy,
  log: (msg: string) => void,
): DispatcherServiceServer {
  const sessions = new SessionTable();

  const checkSession = (nodeId: string, sessionId: string): void => {
    if (!sessions.isCurrent(nodeId, sessionId))
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
      const session = new ServedSession({
        table: sessions,
        dispatcher: d,
        nodeId,
        description,
        addr: call.request.addr,
        sink: {
          send: (msg) => {
            if (call.writableLength > MAX_BUFFERED_BYTES) {
              log(`dropping the session of node ${nodeId}: it is not reading its assignments`);
              fail(call, { code: status.RESOURCE_EXHAUSTED, details: 'too far behind' });
              return;
            }
            call.write(toWireSession(msg));
          },
          close: () => call.end(),
          fail: (e) => fail(call, toServiceError(e, log)),
        },
      });
      const end = (): void => session.end();
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
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

    attachNetwork: unary(async (call) => {
      const { nodeId } = authorize(call, policy, ['worker', 'manager']);
      const d = dispatcher();
      checkSession(nodeId, call.request.sessionId);
      return await d.attachNetwork(nodeId, call.request.networkId);
    }, log),

    detachNetwork: unary(async (call) => {
      const { nodeId } = authorize(call, policy, ['worker', 'manager']);
      const d = dispatcher();
      checkSession(nodeId, call.request.sessionId);
      await d.detachNetwork(nodeId, call.request.networkId, call.request.address);
      return {};
    }, log),

    updateAttachment: unary(async (call) => {
      const { nodeId } = authorize(call, policy, ['worker', 'manager']);
      const d = dispatcher();
      checkSession(nodeId, call.request.sessionId);
      const r = call.request;
      await d.updateAttachment(nodeId, r.networkId, r.address, r.containerId, r.name);
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
