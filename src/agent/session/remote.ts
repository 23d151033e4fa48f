// The agent's side of a session with a manager over mutual-TLS gRPC: a thin adapter. The
// protocol is SessionAssignments' (assignments.ts) and which manager to try next is ManagerList's;
// this file carries them over the cluster port.
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  ManagerList,
  ShoalError,
  codeForGrpcStatus,
  type AgentSession,
  type DispatcherAPI,
  type NodeDescription,
  type SessionHandlers,
  type TaskLogLine,
  type NetworkAttachmentGrant,
  type TaskStatusUpdate,
} from '../../api/index.js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  DispatcherServiceClient,
  fromWireSession,
  leaderHint,
  managerChannelCredentials,
  unaryCall,
  type SessionResponse,
  type TlsMaterial,
} from '../../transport/index.js';
import { SessionAssignments } from './assignments.js';

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

export interface RemoteDispatcherOptions {
  /** Cluster addresses (host:port) of the managers, in order of preference. */
  managers: string[];
  /** The node's current TLS material (it changes on renewal). */
  tls: () => TlsMaterial;
  /** Told whenever the manager list changes, so it can be kept for the next start. */
  onManagers?: (managers: string[]) => void;
  /** Where what the session drops (a malformed network view) is told. */
  log?: (msg: string) => void;
}

/** The manager's error as its code says (a refusal stays a refusal); a transport failure as it is. */
const callError = (err: ServiceError): Error => {
  const code = codeForGrpcStatus(err.code);
  const msg = err.details || err.message;
  return code && err.code !== status.UNAVAILABLE && err.code !== status.DEADLINE_EXCEEDED
    ? new ShoalError(code, msg)
    : new Error(msg);
};
const deadline = (): { deadline: number } => ({ deadline: Date.now() + CALL_TIMEOUT_MS });

export class RemoteDispatcher implements DispatcherAPI {
  #managers: ManagerList;
  #client: { addr: string; tls: TlsMaterial; client: DispatcherServiceClient } | undefined;
  /** The current session's copy of the node's assignments. */
  #session = new SessionAssignments();

  constructor(private readonly o: RemoteDispatcherOptions) {
    this.#managers = new ManagerList(o.managers);
  }

  get managers(): readonly string[] {
    return this.#managers.all;
  }

  /** A channel made with older TLS material, kept open for the session stream still on it. */
  #retired: DispatcherServiceClient | undefined;

  #closed = false;

  #dial(): DispatcherServiceClient {
    // Closed for good: a late call (a status report after the agent stopped) must not open a
    // channel that nothing will close, which would keep the process alive.
    if (this.#closed) throw new Error('the session client is closed');
    const tls = this.o.tls();
    const addr = this.#managers.current;
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
    this.#managers.failed(leader);
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
    const session = new SessionAssignments();
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
      stream.on('data', (res: SessionResponse) => {
        const msg = fromWireSession(res, this.o.log);
        this.#session = session;
        session.receive(msg, handlers, () => {
          if (this.#managers.replace(msg.managers)) this.o.onManagers?.([...this.#managers.all]);
          if (opened) return;
          opened = true;
          clearTimeout(timer);
          resolve({
            heartbeatMs: msg.heartbeatMs,
            managers: [...this.#managers.all],
            close: () => {
              closed = true;
              stream.cancel();
            },
          });
        });
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
    const sessionId = this.#session.sessionId;
    return this.#call((client) =>
      unaryCall<{ heartbeatMs: number }>((cb) =>
        client.heartbeat({ sessionId }, new Metadata(), deadline(), cb),
      ).catch((e: ServiceError) => Promise.reject(callError(e))),
    );
  }

  updateTaskStatus(_nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void> {
    const session = this.#session;
    const request = {
      sessionId: session.sessionId,
      updates: updates.map((u) => ({ taskId: u.taskId, statusJson: Buffer.from(JSON.stringify(u.status)) })),
    };
    return this.#call((client) =>
      unaryCall((cb) => client.updateTaskStatus(request, new Metadata(), deadline(), cb)).then(
        () => session.acknowledged(updates),
        (e: ServiceError) => Promise.reject(callError(e)),
      ),
    );
  }

  publishLogs(
    _nodeId: string,
    subscriptionId: string,
    lines: TaskLogLine[],
    done: boolean,
  ): Promise<boolean> {
    const sessionId = this.#session.sessionId;
    return this.#call((client) =>
      unaryCall((cb) =>
        client.publishLogs({ sessionId, subscriptionId, lines, done }, new Metadata(), deadline(), cb),
      ).then(
        () => true,
        // The subscription is gone: the worker stops sending.
        (e: ServiceError) => (e.code === status.NOT_FOUND ? false : Promise.reject(callError(e))),
      ),
    );
  }

  attachNetwork(_nodeId: string, networkId: string): Promise<NetworkAttachmentGrant> {
    const sessionId = this.#session.sessionId;
    return this.#call((client) =>
      unaryCall<NetworkAttachmentGrant>((cb) =>
        client.attachNetwork({ sessionId, networkId }, new Metadata(), deadline(), cb),
      ).catch((e: ServiceError) => Promise.reject(callError(e))),
    );
  }

  detachNetwork(_nodeId: string, networkId: string, address: string): Promise<void> {
    const sessionId = this.#session.sessionId;
    return this.#call((client) =>
      unaryCall((cb) =>
        client.detachNetwork({ sessionId, networkId, address }, new Metadata(), deadline(), cb),
      ).then(
        () => undefined,
        (e: ServiceError) => Promise.reject(callError(e)),
      ),
    );
  }

  updateAttachment(
    _nodeId: string,
    networkId: string,
    address: string,
    containerId: string,
    name: string,
  ): Promise<void> {
    const request = { sessionId: this.#session.sessionId, networkId, address, containerId, name };
    return this.#call((client) =>
      unaryCall((cb) => client.updateAttachment(request, new Metadata(), deadline(), cb)).then(
        () => undefined,
        (e: ServiceError) => Promise.reject(callError(e)),
      ),
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
