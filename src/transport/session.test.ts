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
