import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyAndCsr, createRootCA, signNodeCertificate } from '../ca/index.js';
import type { NodeCA } from '../manager/index.js';
import { ManualClock } from '../platform/index.js';
import type { TlsMaterial } from '../transport/index.js';
import type { NodeFile } from './nodefile.js';
import { CertRenewal } from './renewal.js';

const HOUR = 3_600_000;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('a renewal whose node changed meanwhile does not stop later renewals', async () => {
  const clock = new ManualClock();
  const root = await createRootCA({ now: clock.now() });
  const subject = {
    nodeId: 'n1node1node1node1node1nod',
    role: 'manager' as const,
    clusterId: 'c1clusterc1clusterc1clus',
  };
  const issue = async (): Promise<TlsMaterial> => {
    const { keyPem, csrPem } = await createKeyAndCsr();
    const certPem = await signNodeCertificate(root, csrPem, subject, { now: clock.now(), validityMs: HOUR });
    return { rootsPem: root.certPem, certPem, keyPem };
  };
  let tls = await issue();
  const node = { nodeId: subject.nodeId } as NodeFile;
  const installs: boolean[] = [];
  const ca = {
    sign: async (csrPem: string) =>
      signNodeCertificate(root, csrPem, subject, { now: clock.now(), validityMs: HOUR }),
    target: () => ({ rootsPem: root.certPem }),
  } as unknown as NodeCA;
  const renewal = new CertRenewal({
    clock,
    node: () => node,
    tls: () => tls,
    leaderCA: () => ca,
    issuer: () => 'unused:2377',
    // The first renewal finds the node changed (a role change raced it); later ones install.
    install: (next) => {
      const ok = installs.length > 0;
      installs.push(ok);
      if (ok) tls = next;
      return Promise.resolve(ok);
    },
    log: () => undefined,
  });
  renewal.schedule();
  clock.advance(HOUR);
  await until(() => installs.length === 1, 'the first renewal ran');
  // The next node's activation schedules renewal afresh; it must run, not be taken for one in flight.
  renewal.schedule();
  clock.advance(HOUR);
  await until(() => installs.length === 2, 'a renewal after the raced one ran');
  assert.deepEqual(installs, [false, true]);
  renewal.cancel();
});
