// The session protocol's messages (api/dispatcher.ts) on the wire: one place turns them into the
// cluster port's SessionResponse and back, so the dispatcher and the agent speak the protocol
// itself and only these two functions know its encoding.
import type {
  Labels,
  LogNotice,
  NetworkView,
  Payload,
  SessionChange,
  SessionMessage,
  Task,
} from '../api/index.js';
import {
  AssignmentChange_Action,
  type AssignmentChange,
  type LogSubscription,
  type SecretPayload,
  type SessionResponse,
} from './gen/shoal/v1/cluster.js';

const UPDATE = AssignmentChange_Action.ACTION_UPDATE;
const REMOVE = AssignmentChange_Action.ACTION_REMOVE;

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const parse = <T>(b: Uint8Array): T => JSON.parse(Buffer.from(b).toString('utf8')) as T;

/** proto3 has no absent string: an empty templating is a plain secret or config. */
const toWire = (p: Payload): SecretPayload => ({
  id: p.id,
  name: p.name,
  data: Buffer.from(p.data),
  templating: p.templating ?? '',
});
const fromWire = (p: SecretPayload): Payload => ({
  id: p.id,
  name: p.name,
  data: p.data,
  ...(p.templating ? { templating: p.templating } : {}),
});

function wireChange(c: SessionChange): AssignmentChange {
  switch (c.kind) {
    case 'task':
      return {
        action: UPDATE,
        item: {
          $case: 'task',
          value: {
            taskJson: json(c.task),
            serviceName: c.serviceName,
            serviceLabelsJson: json(c.serviceLabels),
            registryAuth: c.registryAuth ?? '',
          },
        },
      };
    case 'secret':
      return {
        action: UPDATE,
        item: { $case: 'secret', value: toWire(c.payload) },
      };
    case 'config':
      return {
        action: UPDATE,
        item: { $case: 'config', value: toWire(c.payload) },
      };
    case 'removeTask':
      return { action: REMOVE, item: { $case: 'taskId', value: c.id } };
    case 'removeSecret':
      return { action: REMOVE, item: { $case: 'secretId', value: c.id } };
    case 'removeConfig':
      return { action: REMOVE, item: { $case: 'configId', value: c.id } };
    case 'network':
      return { action: UPDATE, item: { $case: 'networkJson', value: json(c.view) } };
    case 'removeNetwork':
      return { action: REMOVE, item: { $case: 'networkId', value: c.id } };
  }
}

const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isPort = (p: unknown): boolean => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;

/** A published port as the node renders it into nft rules: nothing but known words and numbers. */
const isPublishedPort = (p: unknown): boolean =>
  isObject(p) &&
  (p.protocol === 'tcp' || p.protocol === 'udp' || p.protocol === 'sctp') &&
  isPort(p.published) &&
  isPort(p.target);

/**
 * A network view as it arrived, checked for the shape the data plane relies on (the manager is
 * trusted, but a view from a newer or broken manager must not crash the node): undefined if not.
 */
export function checkNetworkView(v: unknown): NetworkView | undefined {
  if (!isObject(v)) return undefined;
  const ok =
    typeof v.id === 'string' &&
    v.id !== '' &&
    typeof v.name === 'string' &&
    typeof v.vni === 'number' &&
    Number.isInteger(v.vni) &&
    v.vni >= 0 &&
    Array.isArray(v.subnets) &&
    v.subnets.every((s) => isObject(s) && typeof s.subnet === 'string' && typeof s.gateway === 'string') &&
    typeof v.attachable === 'boolean' &&
    typeof v.internal === 'boolean' &&
    typeof v.ingress === 'boolean' &&
    isObject(v.options) &&
    Object.values(v.options).every((o) => typeof o === 'string') &&
    (v.nodeAddress === undefined || typeof v.nodeAddress === 'string') &&
    Array.isArray(v.endpoints) &&
    v.endpoints.every(
      (e) =>
        isObject(e) &&
        typeof e.id === 'string' &&
        typeof e.name === 'string' &&
        (e.serviceId === undefined || typeof e.serviceId === 'string') &&
        isStrings(e.aliases) &&
        isStrings(e.addresses) &&
        typeof e.nodeId === 'string' &&
        typeof e.nodeAddr === 'string' &&
        typeof e.ready === 'boolean',
    ) &&
    Array.isArray(v.services) &&
    v.services.every(
      (s) =>
        isObject(s) &&
        typeof s.id === 'string' &&
        typeof s.name === 'string' &&
        (s.mode === 'vip' || s.mode === 'dnsrr') &&
        (s.vip === undefined || typeof s.vip === 'string') &&
        isStrings(s.aliases) &&
        (s.ports === undefined || (Array.isArray(s.ports) && s.ports.every(isPublishedPort))) &&
        (s.affinity === undefined || s.affinity === 'client-ip') &&
        (s.snat === undefined || typeof s.snat === 'boolean'),
    ) &&
    (v.nodes === undefined ||
      (Array.isArray(v.nodes) &&
        v.nodes.every(
          (n) =>
            isObject(n) &&
            typeof n.nodeId === 'string' &&
            typeof n.nodeAddr === 'string' &&
            typeof n.address === 'string',
        )));
  return ok ? (v as unknown as NetworkView) : undefined;
}

function wireNotice(n: LogNotice): LogSubscription {
  if (n.kind === 'cancel')
    return { id: n.id, taskIds: [], serviceId: '', follow: false, tail: 0, since: 0, cancel: true };
  const s = n.sub;
  return {
    id: s.id,
    taskIds: s.taskIds,
    serviceId: s.serviceId ?? '',
    follow: s.follow,
    tail: s.tail ?? -1,
    since: s.since ?? 0,
    cancel: false,
  };
}

export function toWireSession(m: SessionMessage): SessionResponse {
  return {
    sessionId: m.sessionId,
    heartbeatMs: m.heartbeatMs,
    managers: m.managers,
    complete: m.complete,
    changes: m.changes.map(wireChange),
    rootsPem: m.tls?.rootsPem ?? '',
    issuerPem: m.tls?.issuerPem ?? '',
    nodeRole: m.nodeRole,
    logSubscriptions: m.logs.map(wireNotice),
  };
}

function fromWireChange(c: AssignmentChange, log: (msg: string) => void): SessionChange[] {
  const item = c.item;
  if (!item) return [];
  switch (item.$case) {
    case 'task':
      return [
        {
          kind: 'task',
          task: parse<Task>(item.value.taskJson),
          serviceName: item.value.serviceName,
          serviceLabels: parse<Labels>(item.value.serviceLabelsJson),
          ...(item.value.registryAuth ? { registryAuth: item.value.registryAuth } : {}),
        },
      ];
    case 'secret':
      return [{ kind: 'secret', payload: fromWire(item.value) }];
    case 'config':
      return [{ kind: 'config', payload: fromWire(item.value) }];
    case 'taskId':
      return [{ kind: 'removeTask', id: item.value }];
    case 'secretId':
      return [{ kind: 'removeSecret', id: item.value }];
    case 'configId':
      return [{ kind: 'removeConfig', id: item.value }];
    case 'networkJson': {
      let v: unknown;
      try {
        v = parse<unknown>(item.value);
      } catch {
        v = undefined;
      }
      const view = checkNetworkView(v);
      if (view) return [{ kind: 'network', view }];
      log(`dropped a malformed network view from the manager (${item.value.length} bytes)`);
      return [];
    }
    case 'networkId':
      return [{ kind: 'removeNetwork', id: item.value }];
  }
}

function fromWireNotice(s: LogSubscription): LogNotice {
  if (s.cancel) return { kind: 'cancel', id: s.id };
  return {
    kind: 'subscribe',
    sub: {
      id: s.id,
      taskIds: s.taskIds,
      follow: s.follow,
      ...(s.serviceId ? { serviceId: s.serviceId } : {}),
      ...(s.tail >= 0 ? { tail: s.tail } : {}),
      ...(s.since > 0 ? { since: s.since } : {}),
    },
  };
}

/**
 * A manager's message as the agent reads it (the manager is trusted: its certificate was checked;
 * only network views, which the node's data plane acts on, are checked, and a malformed one is
 * dropped with a log line).
 */
export function fromWireSession(
  r: SessionResponse,
  log: (msg: string) => void = () => undefined,
): SessionMessage {
  return {
    sessionId: r.sessionId,
    heartbeatMs: r.heartbeatMs,
    managers: r.managers,
    complete: r.complete,
    changes: r.changes.flatMap((c) => fromWireChange(c, log)),
    ...(r.rootsPem ? { tls: { rootsPem: r.rootsPem, issuerPem: r.issuerPem } } : {}),
    nodeRole: r.nodeRole === 'manager' || r.nodeRole === 'worker' ? r.nodeRole : '',
    logs: r.logSubscriptions.map(fromWireNotice),
  };
}
