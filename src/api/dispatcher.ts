// The contract between an agent and the manager's dispatcher. Today the agent of a single node
// calls the dispatcher in-process; the secure-cluster issue carries the same calls over mTLS gRPC.
import type { Labels, NodeDescription, Task, TaskStatus } from './types.js';

/** One task for a node, with what the agent needs of its service to name and label its container. */
export interface Assignment {
  task: Task;
  serviceName: string;
  serviceLabels: Labels;
}

export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

export interface DispatcherAPI {
  /** Registers the node (or refreshes its description); marks it ready. */
  register(nodeId: string, description: NodeDescription, addr: string): Promise<{ heartbeatMs: number }>;
  heartbeat(nodeId: string): Promise<{ heartbeatMs: number }>;
  /** Calls onSet with the node's full assignment set now and after every change; returns a stop function. */
  assignments(nodeId: string, onSet: (set: Assignment[]) => void): () => void;
  updateTaskStatus(nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void>;
}
