// node.json under the data root: who this node is in the swarm (its ID, role, addresses, the
// managers it knows, a manager's Raft member ID). Read and checked field by field at start;
// written durably whenever it changes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../platform/index.js';

export interface NodeFile {
  nodeId: string;
  role: 'manager' | 'worker';
  /** Advertised host of this node. */
  addr: string;
  /** Cluster port address (host:port) a manager listens on. */
  listenAddr: string;
  /** Cluster addresses of the managers, as last learned. */
  managers: string[];
  /** A manager's member ID in the Raft group (absent: 1, as written before managers replicated). */
  raftId?: number;
  /** The members the leader named when this manager joined, until its store knows them. */
  raftPeers?: { raftId: number; addr: string }[];
  /**
   * A manager that has not yet received the group's state (set when it starts to join, cleared
   * once it holds the state): only then may its Raft log be empty. Any other manager whose log is
   * missing or empty has lost it and refuses to start.
   */
  joining?: boolean;
}

/** The Raft member ID of a manager whose node.json predates replicated managers. */
export const LEGACY_RAFT_ID = 1;

/** A manager's member ID in the Raft group. */
export function raftIdOf(node: NodeFile): number {
  return node.raftId ?? LEGACY_RAFT_ID;
}

/** A random member ID for a new Raft group's first manager (the leader picks them for joiners). */
export function newRaftId(): number {
  return 1 + Math.floor(Math.random() * (2 ** 31 - 2));
}

export function nodeFilePath(dataRoot: string): string {
  return join(dataRoot, 'node.json');
}

/** What an operator does about a damaged or missing file under the data root. */
export function recoverHint(dataRoot: string): string {
  return `restore it from a backup, or move ${dataRoot} aside and join the swarm again (for a manager, first remove this node on a healthy manager with docker node rm --force); see "Disk faults and recovery" in docs/ARCHITECTURE.md`;
}

/** node.json, or undefined when this node is in no swarm. */
export async function readNodeFile(dataRoot: string): Promise<NodeFile | undefined> {
  const path = nodeFilePath(dataRoot);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return undefined;
  }
  return parseNodeFile(path, dataRoot, text);
}

export function writeNodeFile(dataRoot: string, node: NodeFile): Promise<void> {
  return writeFileDurable(nodeFilePath(dataRoot), JSON.stringify(node));
}

/** node.json as read, checked field by field: a damaged file is refused naming it. */
function parseNodeFile(path: string, dataRoot: string, text: string): NodeFile {
  const damaged = (why: string): Error =>
    new Error(`${path} is damaged (${why}); it says who this node is in the swarm: ${recoverHint(dataRoot)}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw damaged(text.trim() === '' ? 'it is empty' : `not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw damaged('not a JSON object');
  const n = v as Record<string, unknown>;
  if (typeof n.role === 'string' && n.role !== 'manager' && n.role !== 'worker')
    throw new Error(
      `${path} was written by a shoal without cluster certificates; move ${dataRoot} aside and run "swarm init" again`,
    );
  const str = (k: string): boolean => typeof n[k] === 'string';
  const bad = [
    !str('nodeId') || n.nodeId === '' ? 'nodeId' : '',
    !str('role') ? 'role' : '',
    !str('addr') ? 'addr' : '',
    !str('listenAddr') ? 'listenAddr' : '',
    !Array.isArray(n.managers) || n.managers.some((m) => typeof m !== 'string') ? 'managers' : '',
    n.raftId !== undefined && !Number.isSafeInteger(n.raftId) ? 'raftId' : '',
    n.raftPeers !== undefined && !Array.isArray(n.raftPeers) ? 'raftPeers' : '',
    n.joining !== undefined && typeof n.joining !== 'boolean' ? 'joining' : '',
  ].filter((k) => k !== '');
  if (bad.length > 0) throw damaged(`bad or missing ${bad.join(', ')}`);
  return v as NodeFile;
}
