// What shoald is started with (flags and, for tests, injected parts).
import type { Clock } from '../platform/index.js';
import { raftTiming, type RaftNodeOptions, type RaftTimingMs } from '../raft/index.js';
import type { EventLog } from '../manager/index.js';
import type { Executor } from '../agent/index.js';
import type { GenericResource } from '../api/index.js';

export interface DaemonOptions {
  dataRoot: string;
  engineHost: string;
  clock?: Clock;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** For tests: run tasks through another executor than the Docker engine. */
  executorFactory?: (nodeId: string, events: EventLog) => Executor;
  hostname?: string;
  /** The node's generic resources (`--node-generic-resource`); without it, the engine's. */
  genericResources?: GenericResource[];
  heartbeatMs?: number;
  /** Engine operations (container create, start) the agent runs at once. */
  engineConcurrency?: number;
  /** Where task secrets are mounted (tmpfs), outside the data root; default /var/run/shoal. */
  execRoot?: string;
  /** The cluster port address when swarm init/join gives none; Docker's is 0.0.0.0:2377 (tests use port 0). */
  defaultListenAddr?: string;
  /** The overlay data plane: `auto` runs it where it can (root, iproute2, nftables); `off` never. */
  dataPlane?: 'auto' | 'off';
  /** Raft settings for managers. */
  raft?: RaftSettings;
  /**
   * For tests: why a manager refuses `-o encrypted` (undefined: it takes it); without it, the
   * kernel check of network/kernel.ts.
   */
  encryption?: () => Promise<string | undefined>;
}

export interface RaftSettings extends RaftTimingMs {
  snapshotInterval?: number;
  snapshotKeep?: number;
  /** Committed entries the operator chose to skip (`--raft-skip-entry`): see RaftNodeOptions. */
  skipEntries?: ReadonlySet<number>;
}

/** The manager's Raft timing (see raft/node/timing.ts) and snapshot settings. */
export function raftSettings(
  o: RaftSettings = {},
): ReturnType<typeof raftTiming> &
  Pick<RaftNodeOptions, 'snapshotInterval' | 'snapshotKeep' | 'skipEntries'> {
  return {
    ...raftTiming(o),
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.snapshotKeep !== undefined ? { snapshotKeep: o.snapshotKeep } : {}),
    ...(o.skipEntries?.size ? { skipEntries: o.skipEntries } : {}),
  };
}
