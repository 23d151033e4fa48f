import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeAssignment, Payload } from '../../api/index.js';
import { expandedPayload } from './templated.js';

const payload = (id: string, data: string, templating?: string): Payload => ({
  id,
  name: id,
  data: Buffer.from(data),
  ...(templating ? { templating } : {}),
});

function assignment(): NodeAssignment {
  return {
    serviceName: 'api',
    serviceLabels: { team: 'blue' },
    secrets: [],
    configs: [],
    node: { ID: 'node1', Hostname: 'worker-7', Platform: { Architecture: 'x86_64', OS: 'linux' } },
    task: {
      ID: 'task1',
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Labels: {},
      ServiceID: 'svc1',
      Slot: 4,
      NodeID: 'node1',
      Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
      DesiredState: 'running',
      Spec: {
        ContainerSpec: {
          Image: 'busybox:local',
          Env: ['MODE=prod', 'WHERE={{.Node.Hostname}}', 'BARE'],
          Secrets: [
            {
              SecretID: 'pw',
              SecretName: 'db_pw',
              File: { Name: 'db_password', UID: '0', GID: '0', Mode: 0o400 },
            },
            { SecretID: 'tpl', SecretName: 'tpl', File: { Name: 'tpl', UID: '0', GID: '0', Mode: 0o400 } },
          ],
          Configs: [
            {
              ConfigID: 'cfg',
              ConfigName: 'app_cfg',
              File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 },
            },
          ],
        },
      },
    },
  };
}

const all = (...ps: Payload[]): Map<string, Payload> => new Map(ps.map((p) => [p.id, p]));

test('a plain secret or config is written as it is, even when it looks like a template', () => {
  const p = payload('plain', '{{.Service.Name}}');
  assert.equal(
    Buffer.from(expandedPayload(assignment(), 'secret', p, all(p))).toString(),
    '{{.Service.Name}}',
  );
});

test('a golang template expands with the task context, its env and its own secrets and configs', () => {
  const pw = payload('pw', 's3cret');
  const cfg = payload('cfg', 'port=80');
  const tpl = payload(
    'tpl',
    '{{.Service.Name}} {{.Service.Labels}} {{.Task.Name}} {{.Task.Slot}} {{.Node.ID}} {{.Node.Hostname}} ' +
      '{{env "MODE"}} {{env "WHERE"}} [{{env "BARE"}}] [{{env "NONE"}}] {{secret "db_password"}} {{config "/etc/app.conf"}}',
    'golang',
  );
  const out = Buffer.from(expandedPayload(assignment(), 'secret', tpl, all(pw, cfg, tpl))).toString();
  assert.equal(out, 'api map[team:blue] api.4.task1 4 node1 worker-7 prod worker-7 [] [] s3cret port=80');
});

test('a template that reads a secret the task does not mount fails the task, as swarmkit words it', () => {
  const tpl = payload('tpl', 'pw={{secret "other"}}', 'golang');
  assert.throws(() => expandedPayload(assignment(), 'config', tpl, all(tpl)), {
    message:
      'failed to expand templated config tpl: template: expansion:1:5: executing "expansion" at <secret "other">: error calling secret: secret target other not found',
  });
  // Secrets are found by their file target, not by their name.
  const byName = payload('tpl', '{{secret "db_pw"}}', 'golang');
  assert.throws(
    () => expandedPayload(assignment(), 'secret', byName, all(byName)),
    /secret target db_pw not found/,
  );
  const cfg = payload('tpl', '{{config "app_cfg"}}', 'golang');
  assert.throws(
    () => expandedPayload(assignment(), 'secret', cfg, all(cfg)),
    /config target app_cfg not found/,
  );
});

test('an unknown template driver or a broken template fails with the payload named, never its value', () => {
  const other = payload('tpl', 'x', 'jinja');
  assert.throws(() => expandedPayload(assignment(), 'secret', other, all(other)), {
    message: 'failed to expand templated secret tpl: unrecognized template type',
  });
  const pw = payload('pw', 'hunter2');
  const leak = payload('tpl', '{{range secret "db_password"}}{{end}}', 'golang');
  assert.throws(
    () => expandedPayload(assignment(), 'secret', leak, all(pw, leak)),
    (e: unknown) =>
      e instanceof Error && /range can't iterate/.test(e.message) && !e.message.includes('hunter2'),
  );
  const bad = payload('tpl', '{{.Nope}}', 'golang');
  assert.throws(
    () => expandedPayload(assignment(), 'secret', bad, all(bad)),
    /can't evaluate field Nope in type \*template.PayloadContext/,
  );
  const hidden = payload('tpl', '{{.t}}', 'golang');
  assert.throws(
    () => expandedPayload(assignment(), 'secret', hidden, all(hidden)),
    /t is an unexported field/,
  );
});
