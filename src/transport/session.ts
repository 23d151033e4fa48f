// The session protocol's messages (api/dispatcher.ts) on the wire: one place turns them into the
// cluster port's SessionResponse and back, so the dispatcher and the agent speak the protocol
// itself and only these two functions know its encoding.
import type { Labels, LogNotice, Payload, SessionChange, SessionMessage, Task } from '../api/index.js';
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
  }
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

function fromWireChange(c: AssignmentChange): SessionChange[] {
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

/** A manager's message as the agent reads it (the manager is trusted: its certificate was checked). */
export function fromWireSession(r: SessionResponse): SessionMessage {
  return {
    sessionId: r.sessionId,
    heartbeatMs: r.heartbeatMs,
    managers: r.managers,
    complete: r.complete,
    changes: r.changes.flatMap(fromWireChange),
    ...(r.rootsPem ? { tls: { rootsPem: r.rootsPem, issuerPem: r.issuerPem } } : {}),
    nodeRole: r.nodeRole === 'manager' || r.nodeRole === 'worker' ? r.nodeRole : '',
    logs: r.logSubscriptions.map(fromWireNotice),
  };
}
