import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionResponse } from './gen/shoal/v1/cluster.js';
import { fromWireSession, toWireSession } from './session.js';
import type { SessionMessage } from '../api/index.js';

test('a payload keeps its template driver across the wire, and a plain one stays plain', () => {
  const m: SessionMessage = {
    sessionId: 's',
    heartbeatMs: 1000,
    managers: [],
    complete: true,
    nodeRole: '',
    logs: [],
    changes: [
      {
        kind: 'secret',
        payload: { id: 'a', name: 'tpl', data: Buffer.from('{{.Service.Name}}'), templating: 'golang' },
      },
      { kind: 'config', payload: { id: 'b', name: 'plain', data: Buffer.from('x') } },
    ],
  };
  const bytes = SessionResponse.encode(toWireSession(m)).finish();
  const back = fromWireSession(SessionResponse.decode(bytes));
  const [secret, config] = back.changes;
  assert.ok(secret?.kind === 'secret' && config?.kind === 'config');
  assert.equal(secret.payload.templating, 'golang');
  assert.equal(Buffer.from(secret.payload.data).toString(), '{{.Service.Name}}');
  assert.equal('templating' in config.payload, false);
});

test('network views and their removals cross the wire; a malformed view is dropped with a log line', () => {
  const view = {
    id: 'net1',
    name: 'front',
    vni: 4097,
    subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1' }],
    attachable: true,
    internal: false,
    ingress: false,
    options: { encrypted: '' },
    nodeAddress: '10.0.1.9/24',
    endpoints: [
      {
        id: 't1',
        name: 'web.1.t1',
        serviceId: 's1',
        aliases: ['api'],
        addresses: ['10.0.1.3/24'],
        nodeId: 'n1',
        nodeAddr: '192.168.0.1',
        ready: true,
      },
    ],
    services: [{ id: 's1', name: 'web', mode: 'vip' as const, vip: '10.0.1.2', aliases: ['api'] }],
  };
  const m: SessionMessage = {
    sessionId: 's',
    heartbeatMs: 1000,
    managers: [],
    complete: false,
    nodeRole: '',
    logs: [],
    changes: [
      { kind: 'network', view },
      { kind: 'removeNetwork', id: 'net2' },
    ],
  };
  const back = fromWireSession(SessionResponse.decode(SessionResponse.encode(toWireSession(m)).finish()));
  assert.deepEqual(back.changes, m.changes);

  const logged: string[] = [];
  const wire = toWireSession(m);
  for (const bad of [
    '{"id":"x"',
    JSON.stringify({ ...view, vni: 'x' }),
    JSON.stringify({ ...view, endpoints: [{}] }),
  ]) {
    wire.changes[0] = {
      action: wire.changes[0]!.action,
      item: { $case: 'networkJson', value: Buffer.from(bad) },
    };
    const r = fromWireSession(SessionResponse.decode(SessionResponse.encode(wire).finish()), (l) =>
      logged.push(l),
    );
    assert.deepEqual(r.changes, [{ kind: 'removeNetwork', id: 'net2' }], bad);
  }
  assert.equal(logged.length, 3);
});
