// What workers send: a node's description and its task status reports come from another machine and go into the
// Raft store, so they pass the same checks as API input: a worker that sends garbage gets an
// error and changes nothing.
import { invalidArgument } from '../errors.js';
import { checkBody, int64, type Schema } from '../schema.js';
import { TASK_STATES } from '../types.js';
import type { NodeDescription, TaskStatus } from '../types.js';
import { GENERIC_RESOURCES, nonNegative, PORT_CONFIG } from './common.js';

/** Longest free-text field a worker may send (a task's status message or error). */
export const MAX_WORKER_TEXT = 16 * 1024;
const PRINTABLE = /^[^\x00-\x1f\x7f]*$/;

function text(v: string | undefined, what: string, max = MAX_WORKER_TEXT): void {
  if (v !== undefined && v.length > max) throw invalidArgument(`${what} is longer than ${max} characters`);
}

const NODE_DESCRIPTION = {
  obj: {
    Hostname: 'string',
    Platform: { obj: { Architecture: 'string', OS: 'string' } },
    Resources: { obj: { NanoCPUs: int64, MemoryBytes: int64, GenericResources: GENERIC_RESOURCES } },
    Engine: {
      obj: {
        EngineVersion: 'string',
        Labels: 'labels',
        Plugins: { arr: { obj: { Type: 'string', Name: 'string' } } },
      },
    },
    TLSInfo: { obj: { TrustRoot: 'string', CertIssuerSubject: 'string', CertIssuerPublicKey: 'string' } },
  },
} satisfies Schema;

export function validateNodeDescription(raw: unknown): NodeDescription {
  const d = checkBody<NodeDescription>(raw, NODE_DESCRIPTION, 'a NodeDescription');
  const host = d.Hostname ?? '';
  if (host === '' || host.length > 253 || !PRINTABLE.test(host))
    throw invalidArgument('node hostname must be 1 to 253 printable characters');
  for (const [k, v] of [
    ['Platform.Architecture', d.Platform?.Architecture],
    ['Platform.OS', d.Platform?.OS],
    ['Engine.EngineVersion', d.Engine?.EngineVersion],
  ] as const)
    text(v, k, 256);
  const labels = Object.entries(d.Engine?.Labels ?? {});
  if (labels.length > 1000) throw invalidArgument('a node has at most 1000 engine labels');
  for (const [k, v] of labels) text(k + v, 'an engine label', 4096);
  if ((d.Engine?.Plugins?.length ?? 0) > 1000) throw invalidArgument('a node has at most 1000 plugins');
  nonNegative(d.Resources?.NanoCPUs, 'Resources.NanoCPUs');
  nonNegative(d.Resources?.MemoryBytes, 'Resources.MemoryBytes');
  d.Platform = { Architecture: d.Platform?.Architecture ?? '', OS: d.Platform?.OS ?? '' };
  const generic = d.Resources?.GenericResources ?? [];
  if (generic.length > 1000) throw invalidArgument('a node has at most 1000 generic resources');
  for (const g of generic) {
    text(`${g.NamedResourceSpec?.Kind ?? ''}${g.NamedResourceSpec?.Value ?? ''}`, 'a generic resource', 4096);
    text(g.DiscreteResourceSpec?.Kind, 'a generic resource', 4096);
    nonNegative(g.DiscreteResourceSpec?.Value, 'a generic resource count');
  }
  d.Resources = {
    NanoCPUs: d.Resources?.NanoCPUs ?? 0,
    MemoryBytes: d.Resources?.MemoryBytes ?? 0,
    ...(generic.length > 0 ? { GenericResources: generic } : {}),
  };
  d.Engine = { ...d.Engine, EngineVersion: d.Engine?.EngineVersion ?? '' };
  return d;
}

const TASK_STATUS = {
  obj: {
    Timestamp: 'string',
    State: 'string',
    Message: 'string',
    Err: 'string',
    ContainerStatus: { obj: { ContainerID: 'string', PID: int64, ExitCode: int64 } },
    PortStatus: { obj: { Ports: { arr: PORT_CONFIG } } },
  },
} satisfies Schema;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A task status report from an agent. */
export function validateTaskStatus(raw: unknown): TaskStatus {
  const s = checkBody<Partial<TaskStatus>>(raw, TASK_STATUS, 'a TaskStatus');
  if (!s.State || !(TASK_STATES as readonly string[]).includes(s.State))
    throw invalidArgument(`unknown task state "${String(s.State).slice(0, 32)}"`);
  if (!s.Timestamp || !RFC3339.test(s.Timestamp) || Number.isNaN(Date.parse(s.Timestamp)))
    throw invalidArgument('task status Timestamp must be an RFC 3339 time');
  text(s.Message, 'task status Message');
  text(s.Err, 'task status Err');
  text(s.ContainerStatus?.ContainerID, 'ContainerID', 128);
  if ((s.PortStatus?.Ports?.length ?? 0) > 65536) throw invalidArgument('too many ports in a task status');
  return {
    ...s,
    State: s.State,
    Timestamp: s.Timestamp,
    Message: s.Message ?? '',
    PortStatus: s.PortStatus ?? {},
  };
}

/** The task ID of a status report: one of ours, or nothing to update. */
export function validateTaskId(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 64 || !/^[a-z0-9]+$/.test(v))
    throw invalidArgument('a task status report names no valid task ID');
  return v;
}

/** A network a worker asks to attach to: its ID or, from a container create, its name. */
export function validateNetworkRef(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(v))
    throw invalidArgument('no valid network name or ID');
  return v;
}

/** A network ID a worker names (an attachment's network). */
export function validateNetworkId(v: unknown): string {
  if (typeof v !== 'string' || !/^[a-z0-9]{1,64}$/.test(v)) throw invalidArgument('no valid network ID');
  return v;
}

/** An address a worker names (bare or with prefix), bare. */
export function validateAttachmentAddress(v: unknown): string {
  const bare = typeof v === 'string' && v.length <= 64 ? (v.split('/')[0] ?? '') : '';
  if (!/^[0-9a-fA-F.:]{2,45}$/.test(bare)) throw invalidArgument('no valid attachment address');
  return bare;
}

/** A container an attachment is for: its engine ID and name (as `docker ps` shows it). */
export function validateAttachmentContainer(id: unknown, name: unknown): { id: string; name: string } {
  if (typeof id !== 'string' || !/^[0-9a-f]{12,64}$/.test(id)) throw invalidArgument('no valid container ID');
  const n = typeof name === 'string' ? name.replace(/^\//, '') : '';
  if (n.length > 255 || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(n))
    throw invalidArgument('no valid container name');
  return { id, name: n };
}
