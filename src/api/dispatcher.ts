// The contract between an agent and the leader's dispatcher. Agents reach it over mutual-TLS gRPC
// (agent/session), managers' own agents included; tests also call a dispatcher in-process,
// behind this same interface.
import type { NodeRole, Labels, NodeDescription, Task, TaskStatus } from './types.js';
import type { NetworkView } from './dataplane.js';

/** The plaintext of a secret or config that a task on the node references. */
export interface Payload {
  id: string;
  name: string;
  data: Uint8Array;
  /** The template driver ("golang") of a templated one: the agent expands it per task. */
  templating?: string;
}

/** One task for a node, with what the agent needs of its service and the payloads it references. */
export interface Assignment {
  task: Task;
  serviceName: string;
  serviceLabels: Labels;
  secrets: Payload[];
  configs: Payload[];
  /** The service's registry credentials (X-Registry-Auth as the client sent it), for the pull. */
  registryAuth?: string;
}

export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

/** What a node should trust, and which root should have signed its certificate. */
export interface TlsTarget {
  rootsPem: string;
  issuerPem: string;
}

/** A manager wants the logs of some of the node's tasks (`service logs`). */
export interface LogSubscription {
  id: string;
  taskIds: string[];
  /** With follow: tasks of this service that start on the node later are followed too. */
  serviceId?: string;
  follow: boolean;
  /** Lines from the end of each task's log; all when absent. */
  tail?: number;
  /** Only lines from this time on, seconds since the epoch. */
  since?: number;
}

/** One line of a task's log. */
export interface TaskLogLine {
  taskId: string;
  /** 1 stdout, 2 stderr. */
  stream: 1 | 2;
  /** RFC 3339 with nanoseconds. */
  timestamp: string;
  line: string;
}

export interface SessionHandlers {
  /** The node's full assignment set, now and after every change. */
  onAssignments(set: Assignment[]): void;
  /** The cluster's TLS target, now and after every change (root rotation): the node renews to match. */
  onTlsTarget?(t: TlsTarget): void;
  /** The role the cluster wants this node in, now and after every change (node promote/demote). */
  onNodeRole?(role: NodeRole): void;
  /** A log subscription for this node's tasks; the agent answers through `publishLogs`. */
  onLogSubscription?(sub: LogSubscription): void;
  /** The subscriber of a log subscription went away. */
  onLogCancel?(subscriptionId: string): void;
  /**
   * The views of the overlay networks the node needs (api/dataplane.ts), sorted by network ID:
   * now (before the first assignment set) and after every change.
   */
  onNetworks?(views: NetworkView[]): void;
  /** The session ended (manager gone, node removed, network): the agent opens a new one. */
  onClose(err: Error): void;
}

export interface AgentSession {
  heartbeatMs: number;
  /** Cluster addresses of the managers, for failover. */
  managers: string[];
  close(): void;
}

export interface DispatcherAPI {
  /** Registers the node (marking it ready) and starts streaming its assignments. */
  openSession(
    nodeId: string,
    description: NodeDescription,
    addr: string,
    handlers: SessionHandlers,
  ): Promise<AgentSession>;
  heartbeat(nodeId: string): Promise<{ heartbeatMs: number }>;
  updateTaskStatus(nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void>;
  /**
   * Lines for a log subscription, `done` once the node has sent all it has (never while
   * following). Resolves false when the subscription is gone: the node stops sending.
   */
  publishLogs(nodeId: string, subscriptionId: string, lines: TaskLogLine[], done: boolean): Promise<boolean>;
  /**
   * A standalone container on an attachable overlay network wants an address (the engine's IPAM
   * asked the node's plugin): recorded as a network-attachment task of the node, running.
   * Optional: carriers without standalone containers (the simulator) leave them out.
   */
  attachNetwork?(nodeId: string, networkId: string): Promise<NetworkAttachmentGrant>;
  /** The engine released the address: the attachment goes. Unknown ones are already gone. */
  detachNetwork?(nodeId: string, networkId: string, address: string): Promise<void>;
  /** The container behind an attachment, once the node knows it: its name answers in DNS. */
  updateAttachment?(
    nodeId: string,
    networkId: string,
    address: string,
    containerId: string,
    name: string,
  ): Promise<void>;
}

/** An address granted to a standalone container: the attachment task's ID and the address (with prefix). */
export interface NetworkAttachmentGrant {
  attachmentId: string;
  address: string;
}

// ---- The session protocol, as both sides speak it whatever carries it (gRPC, the simulator) ----

/**
 * One change to a node's assignment set or network views. Payloads and networks come before the
 * tasks that use them.
 */
export type SessionChange =
  | { kind: 'task'; task: Task; serviceName: string; serviceLabels: Labels; registryAuth?: string }
  | { kind: 'secret'; payload: Payload }
  | { kind: 'config'; payload: Payload }
  | { kind: 'removeTask'; id: string }
  | { kind: 'removeSecret'; id: string }
  | { kind: 'removeConfig'; id: string }
  /** A network's view, new or changed (sent whole), and a network the node no longer needs. */
  | { kind: 'network'; view: NetworkView }
  | { kind: 'removeNetwork'; id: string };

/** A log subscription for the node, or the end of one. */
export type LogNotice = { kind: 'subscribe'; sub: LogSubscription } | { kind: 'cancel'; id: string };

/**
 * One message down a session stream. The first is `complete` (its changes build the set from
 * empty); later ones carry only what changed, or only news (TLS target, role, log notices).
 */
export interface SessionMessage {
  sessionId: string;
  heartbeatMs: number;
  managers: string[];
  complete: boolean;
  changes: SessionChange[];
  /** With the first message and after each change of the cluster's trust. */
  tls?: TlsTarget;
  /** Empty until the dispatcher has said. */
  nodeRole: NodeRole | '';
  logs: LogNotice[];
}
