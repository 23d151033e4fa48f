// Membership changes, one member at a time: add a voter, add a learner (or demote a voter to one),
// promote a learner (AddNode on a learner), remove a member. No joint consensus.
import { RaftError } from './types.js';
import type { ConfState, NodeId } from './types.js';

export type ConfChangeType = 'AddNode' | 'AddLearnerNode' | 'RemoveNode';

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to the core: the driver's own data about the member (its address, say). */
  context?: Uint8Array;
}

const TYPE_CODES: Record<ConfChangeType, number> = { AddNode: 1, AddLearnerNode: 2, RemoveNode: 3 };
const CODE_TYPES: ReadonlyMap<number, ConfChangeType> = new Map(
  Object.entries(TYPE_CODES).map(([t, c]) => [c, t as ConfChangeType]),
);
const HEADER_BYTES = 9;

/** Layout: [type code u8][node id as u32 high, u32 low, big-endian][context...]. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) {
    throw new RaftError('ConfChangeInvalid', `node id ${cc.nodeId} must be a positive safe integer`);
  }
  const ctx = cc.context ?? new Uint8Array(0);
  const out = new Uint8Array(HEADER_BYTES + ctx.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, TYPE_CODES[cc.type]);
  view.setUint32(1, Math.floor(cc.nodeId / 2 ** 32));
  view.setUint32(5, cc.nodeId % 2 ** 32);
  out.set(ctx, HEADER_BYTES);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < HEADER_BYTES) {
    throw new RaftError('ConfChangeInvalid', `conf change of ${data.byteLength} bytes is too short`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = CODE_TYPES.get(view.getUint8(0));
  if (type === undefined)
    throw new RaftError('ConfChangeInvalid', `unknown conf change type ${view.getUint8(0)}`);
  const nodeId = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  const cc: ConfChange = { type, nodeId };
  if (data.byteLength > HEADER_BYTES) cc.context = data.slice(HEADER_BYTES);
  return cc;
}

/**
 * The configuration after applying cc. Throws 'ConfChangeInvalid' for a change that would leave no
 * voter. Adding a member that is already in that role is a no-op.
 */
export function applyToConfState(cs: ConfState, cc: ConfChange): ConfState {
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  switch (cc.type) {
    case 'AddNode':
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case 'AddLearnerNode':
      voters.delete(cc.nodeId);
      learners.add(cc.nodeId);
      break;
    case 'RemoveNode':
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
  }
  if (voters.size === 0) {
    throw new RaftError('ConfChangeInvalid', `${describeConfChange(cc)} would leave no voters`);
  }
  const sorted = (s: Set<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);
  return { voters: sorted(voters), learners: sorted(learners) };
}

export function describeConfChange(cc: ConfChange): string {
  const verb = cc.type === 'AddNode' ? 'v' : cc.type === 'AddLearnerNode' ? 'l' : 'r';
  return `${verb}${cc.nodeId}`;
}

export function describeConfState(cs: ConfState): string {
  let s = `voters=(${cs.voters.join(' ')})`;
  if (cs.learners.length > 0) s += ` learners=(${cs.learners.join(' ')})`;
  return s;
}
