// The executor contract (after swarmkit's agent/exec): a node runs tasks through controllers.
// Optional abilities (logs) are separate interfaces.
import {
  taskContainerName,
  type Assignment,
  type NodeDescription,
  type PortConfig,
} from '../../api/index.js';

export interface ExitInfo {
  exitCode: number;
  /** Set when the task failed for a reason other than its exit code (e.g. unhealthy). */
  err?: string;
}

/** What recover() found of a task's container after an agent restart. */
export type Recovered =
  | { kind: 'missing' }
  | { kind: 'created'; containerId: string }
  | { kind: 'running'; containerId: string; pid: number }
  | { kind: 'exited'; containerId: string; exit: ExitInfo };

export interface Controller {
  /**
   * Gets what prepare needs onto the node (the image, pulled as the policy says). Apart from
   * prepare so a pull, which may take minutes, holds none of the engine's operation slots.
   */
  pull?(): Promise<void>;
  /** Creates the container (image must be present). Returns its ID. */
  prepare(): Promise<string>;
  /** Starts the container; `ports`: the host ports its host-mode ports got (Status.PortStatus). */
  start(): Promise<{ pid: number; ports?: PortConfig[] }>;
  /** Resolves when the task is ready to be called RUNNING (immediately, or healthy if it has a healthcheck). */
  healthy(signal: AbortSignal): Promise<ExitInfo | undefined>;
  /** Resolves when the container exits (or turns unhealthy). */
  wait(signal: AbortSignal): Promise<ExitInfo>;
  /** Stops gracefully: the stop signal, then SIGKILL after the grace period. */
  shutdown(): Promise<void>;
  terminate(): Promise<void>;
  remove(): Promise<void>;
  /** Re-attaches to a container left by an earlier run of the agent. */
  recover(): Promise<Recovered>;
}

export interface LogLine {
  stream: 1 | 2;
  /** RFC 3339 with nanoseconds, as the engine gives it. */
  timestamp: string;
  line: string;
}

export interface LogOptions {
  follow: boolean;
  tail?: number;
  since?: number;
  signal: AbortSignal;
}

export interface Executor {
  describe(): Promise<NodeDescription>;
  controller(a: Assignment): Controller;
  /** Task IDs of containers this node manages (for garbage collection after a restart). */
  managedTaskIds(): Promise<Map<string, string>>;
  removeContainer(containerId: string): Promise<void>;
  logs?(taskId: string, opts: LogOptions): AsyncIterable<LogLine>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function containerName(a: Assignment): string {
  return taskContainerName(a.serviceName, a.task);
}
