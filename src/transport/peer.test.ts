import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createKeyAndCsr, createRootCA, signNodeCertificate } from '../ca/index.js';
import { peerIdentity } from './peer.js';

const now = Date.now();
const root = await createRootCA({ now });

async function certDer(nodeId: string, role: 'manager' | 'worker'): Promise<Buffer> {
  const { csrPem } = await createKeyAndCsr();
  const pem = await signNodeCertificate(
    root,
    csrPem,
    { nodeId, role, clusterId: 'c1' },
    { now, validityMs: 3600_000 },
  );
  return new X509Certificate(pem).raw;
}

const callWith = (raw: Buffer | undefined) => ({
  getAuthContext: () => ({ sslPeerCertificate: raw ? { raw } : {} }),
});

test('peerIdentity reads the certificate once and answers each caller with its own identity', async () => {
  const a = await certDer('nodea', 'manager');
  const b = await certDer('nodeb', 'worker');
  const ia = peerIdentity(callWith(a));
  assert.equal(ia?.nodeId, 'nodea');
  assert.equal(ia?.role, 'manager');
  assert.equal(ia?.clusterId, 'c1');
  assert.ok(Object.isFrozen(ia), 'a cached identity cannot be changed by one caller for the next');
  assert.equal(peerIdentity(callWith(Buffer.from(a))), ia, 'the same certificate again: the cached identity');
  const ib = peerIdentity(callWith(b));
  assert.equal(ib?.nodeId, 'nodeb');
  assert.equal(ib?.role, 'worker');
  assert.equal(peerIdentity(callWith(undefined)), undefined);
  assert.equal(peerIdentity(callWith(Buffer.from('not a certificate'))), undefined);
  assert.equal(peerIdentity(callWith(Buffer.from('not a certificate'))), undefined, 'also when cached');
});
