import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ShoalError, type ErrorCode } from '../api/index.js';
import {
  CLOCK_SKEW_MS,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  ROOT_VALIDITY_MS,
  createKeyAndCsr,
  createRootCA,
  crossSignRoot,
  identityOf,
  renewalDelayMs,
  signNodeCertificate,
  splitPemCertificates,
  verifyNodeCertificate,
} from './pki.js';
import type { CertKey, NodeRole } from './pki.js';

// Whole seconds: X.509 times have second precision.
const NOW = Date.UTC(2030, 0, 1);
const MIN = 60_000;

function isCode(code: ErrorCode) {
  return (err: unknown): boolean => err instanceof ShoalError && err.code === code;
}

async function issue(
  issuer: CertKey,
  role: NodeRole,
  o: { now?: number; validityMs?: number; intermediatePem?: string; nodeId?: string } = {},
): Promise<CertKey> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = await signNodeCertificate(
    issuer,
    csrPem,
    { nodeId: o.nodeId ?? `node-${role}`, role, clusterId: 'cluster1' },
    {
      now: o.now ?? NOW,
      validityMs: o.validityMs ?? DEFAULT_NODE_CERT_VALIDITY_MS,
      ...(o.intermediatePem !== undefined ? { intermediatePem: o.intermediatePem } : {}),
    },
  );
  return { certPem, keyPem };
}

const root = await createRootCA({ now: NOW });
const otherRoot = await createRootCA({ now: NOW });

test('createRootCA makes a self-signed P-256 CA valid for 20 years', () => {
  const cert = new X509Certificate(root.certPem);
  assert.equal(cert.subject, 'CN=swarm-ca');
  assert.equal(cert.issuer, 'CN=swarm-ca');
  assert.equal(cert.ca, true);
  assert.equal(cert.verify(cert.publicKey), true);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(Date.parse(cert.validTo), NOW + ROOT_VALIDITY_MS);
  assert.equal(Date.parse(cert.validFrom), NOW - CLOCK_SKEW_MS);
  assert.match(root.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(cert.checkPrivateKey(createPrivateKey(root.keyPem)), true);
  assert.notEqual(new X509Certificate(otherRoot.certPem).fingerprint256, cert.fingerprint256);
});

test('node certificates carry the identity the CA chose', async () => {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const chain = await signNodeCertificate(
    root,
    csrPem,
    { nodeId: 'abc123', role: 'manager', clusterId: 'clu9' },
    { now: NOW, validityMs: DEFAULT_NODE_CERT_VALIDITY_MS },
  );
  const want = {
    nodeId: 'abc123',
    role: 'manager',
    clusterId: 'clu9',
    notBefore: NOW - MIN,
    notAfter: NOW + 90 * 24 * 3600_000,
  };
  const id = identityOf(chain);
  assert.deepEqual({ ...id, serial: undefined }, { ...want, serial: undefined });
  assert.match(id.serial, /^[0-9a-f]{32}$/);
  assert.deepEqual(verifyNodeCertificate(chain, [root.certPem], NOW), id);

  const cert = new X509Certificate(chain);
  assert.equal(cert.subject, 'O=clu9\nOU=swarm-manager\nCN=abc123');
  assert.equal(cert.ca, false);
  assert.deepEqual([...cert.keyUsage].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(cert.checkPrivateKey(createPrivateKey(keyPem)), true);
  assert.equal(identityOf(new Uint8Array(cert.raw)).nodeId, 'abc123', 'DER input');

  const worker = await issue(root, 'worker');
  const wid = identityOf(worker.certPem);
  assert.equal(wid.role, 'worker');
  assert.equal(new X509Certificate(worker.certPem).subject.split('\n')[1], 'OU=swarm-worker');
  assert.notEqual(wid.serial, id.serial);
});

test('signNodeCertificate refuses bad CSRs and bad identities', async () => {
  const { csrPem } = await createKeyAndCsr();
  const subject = { nodeId: 'n1', role: 'worker' as const, clusterId: 'c1' };
  const o = { now: NOW, validityMs: MIN };
  // Flip a bit in the signature (the last bytes of the DER).
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 2] = (der[der.length - 2] ?? 0) ^ 1;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(signNodeCertificate(root, tampered, subject, o), isCode('BadCsr'));
  await assert.rejects(signNodeCertificate(root, 'not a csr', subject, o), isCode('BadCsr'));
  await assert.rejects(
    signNodeCertificate(root, csrPem, { ...subject, nodeId: '' }, o),
    isCode('BadIdentity'),
  );
  await assert.rejects(
    signNodeCertificate(root, csrPem, { ...subject, clusterId: 'a,OU=swarm-manager' }, o),
    isCode('BadIdentity'),
  );
});

test('identityOf refuses certificates without a node identity', () => {
  assert.throws(() => identityOf(root.certPem), isCode('BadIdentity'));
  assert.throws(() => identityOf('garbage'), isCode('BadIdentity'));
  assert.throws(() => identityOf(new Uint8Array([1, 2, 3])), isCode('BadIdentity'));
});

test('a node certificate is valid only within its lifetime', async () => {
  const node = await issue(root, 'worker', { validityMs: 10 * MIN });
  assert.equal(verifyNodeCertificate(node.certPem, [root.certPem], NOW + 5 * MIN).role, 'worker');
  assert.equal(
    verifyNodeCertificate(node.certPem, [root.certPem], NOW - 30_000).role,
    'worker',
    'clock skew',
  );
  assert.throws(
    () => verifyNodeCertificate(node.certPem, [root.certPem], NOW + 11 * MIN),
    isCode('CertificateExpired'),
  );
  assert.throws(
    () => verifyNodeCertificate(node.certPem, [root.certPem], NOW - 2 * MIN),
    isCode('CertificateNotYetValid'),
  );
});

test('a node certificate never outlives its issuer', async () => {
  const shortRoot = await createRootCA({ now: NOW, validityMs: 60 * MIN });
  const node = await issue(shortRoot, 'worker');
  assert.equal(identityOf(node.certPem).notAfter, NOW + 60 * MIN);
  assert.throws(
    () => verifyNodeCertificate(node.certPem, [shortRoot.certPem], NOW + 61 * MIN),
    isCode('CertificateExpired'),
  );
});

test('verifyNodeCertificate refuses certificates from another root', async () => {
  const foreign = await issue(otherRoot, 'manager');
  assert.throws(
    () => verifyNodeCertificate(foreign.certPem, [root.certPem], NOW),
    isCode('UntrustedCertificate'),
  );
  assert.equal(
    verifyNodeCertificate(foreign.certPem, [root.certPem, otherRoot.certPem], NOW).role,
    'manager',
  );
  assert.equal(
    verifyNodeCertificate(foreign.certPem, [root.certPem + otherRoot.certPem], NOW).role,
    'manager',
  );
  assert.throws(() => verifyNodeCertificate('', [root.certPem], NOW), isCode('UntrustedCertificate'));
  assert.throws(() => verifyNodeCertificate(foreign.certPem, [], NOW), isCode('UntrustedCertificate'));
  // A chain that merely carries the trusted root does not make a foreign leaf trusted.
  assert.throws(
    () => verifyNodeCertificate(foreign.certPem + root.certPem, [root.certPem], NOW),
    isCode('UntrustedCertificate'),
  );
});

test('root rotation: a cross-signed new root bridges old and new trust', async () => {
  const newRoot = await createRootCA({ now: NOW });
  const cross = await crossSignRoot(root, newRoot, NOW);
  const crossCert = new X509Certificate(cross);
  assert.equal(crossCert.ca, true);
  assert.equal(crossCert.verify(new X509Certificate(root.certPem).publicKey), true);
  assert.equal(crossCert.publicKey.equals(new X509Certificate(newRoot.certPem).publicKey), true);

  const bridged = await issue(newRoot, 'worker', { intermediatePem: cross });
  assert.equal(splitPemCertificates(bridged.certPem).length, 2);
  assert.equal(verifyNodeCertificate(bridged.certPem, [root.certPem], NOW).role, 'worker');
  assert.equal(verifyNodeCertificate(bridged.certPem, [newRoot.certPem], NOW).role, 'worker');

  const plain = await issue(newRoot, 'manager');
  assert.equal(verifyNodeCertificate(plain.certPem, [newRoot.certPem], NOW).role, 'manager');
  assert.throws(
    () => verifyNodeCertificate(plain.certPem, [root.certPem], NOW),
    isCode('UntrustedCertificate'),
  );
  // A cross-signature by an untrusted root does not help.
  const foreignCross = await crossSignRoot(otherRoot, newRoot, NOW);
  const viaForeign = await issue(newRoot, 'worker', { intermediatePem: foreignCross });
  assert.throws(
    () => verifyNodeCertificate(viaForeign.certPem, [root.certPem], NOW),
    isCode('UntrustedCertificate'),
  );
});

test('renewalDelayMs picks a point in [50%, 80%] of the lifetime', () => {
  const id = { notBefore: 1_000_000, notAfter: 2_000_000 };
  assert.equal(
    renewalDelayMs(id, id.notBefore, () => 0),
    500_000,
  );
  const late = renewalDelayMs(id, id.notBefore, () => 0.999);
  assert.ok(late > 799_000 && late < 800_000, String(late));
  assert.equal(
    renewalDelayMs(id, 1_600_000, () => 0),
    0,
    'already past the point',
  );
  assert.equal(
    renewalDelayMs(id, 1_600_000, () => 0.5),
    50_000,
  );
  assert.equal(
    renewalDelayMs(id, 3_000_000, () => 0.999),
    0,
    'expired',
  );
});

interface Handshake {
  clientAuthorized: boolean;
  serverAuthorized: boolean;
  serverAuthError: string | undefined;
  peerOU: unknown;
}

async function handshake(server: tls.TlsOptions, client: tls.ConnectionOptions): Promise<Handshake> {
  const srv = tls.createServer(server);
  const serverSide = new Promise<{ authorized: boolean; error: string | undefined; ou: unknown }>(
    (resolve) => {
      srv.once('secureConnection', (socket) => {
        const error: unknown = socket.authorizationError; // null when authorized
        resolve({
          authorized: socket.authorized,
          error: error == null ? undefined : String(error),
          ou: socket.getPeerCertificate().subject?.OU,
        });
        socket.end();
      });
    },
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = srv.address() as AddressInfo;
    const sock = tls.connect({ ...client, host: '127.0.0.1', port, servername: 'swarm-manager' });
    const clientAuthorized = await new Promise<boolean>((resolve, reject) => {
      sock.once('secureConnect', () => resolve(sock.authorized));
      sock.once('error', reject);
    });
    const s = await serverSide;
    sock.destroy();
    return { clientAuthorized, serverAuthorized: s.authorized, serverAuthError: s.error, peerOU: s.ou };
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}

test('certificates work for mutual TLS in Node', async () => {
  const now = Math.floor(Date.now() / 1000) * 1000; // OpenSSL checks against the real clock
  const ca = await createRootCA({ now });
  const manager = await issue(ca, 'manager', { now });
  const worker = await issue(ca, 'worker', { now });
  tls.createSecureContext({ ca: ca.certPem, cert: manager.certPem, key: manager.keyPem });

  const serverOpts = { ca: ca.certPem, cert: manager.certPem, key: manager.keyPem, requestCert: true };
  const ok = await handshake(
    { ...serverOpts, rejectUnauthorized: true },
    { ca: ca.certPem, cert: worker.certPem, key: worker.keyPem, rejectUnauthorized: true },
  );
  assert.deepEqual(ok, {
    clientAuthorized: true,
    serverAuthorized: true,
    serverAuthError: undefined,
    peerOU: 'swarm-worker',
  });

  const strangerCa = await createRootCA({ now });
  const stranger = await issue(strangerCa, 'worker', { now });
  const refused = await handshake(
    { ...serverOpts, rejectUnauthorized: false },
    { ca: ca.certPem, cert: stranger.certPem, key: stranger.keyPem, rejectUnauthorized: false },
  );
  assert.equal(refused.serverAuthorized, false);
  assert.match(refused.serverAuthError ?? '', /^UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)/);
  assert.equal(refused.clientAuthorized, true);

  // During rotation a node with a new-root certificate still talks to one that trusts only the old root.
  const newCa = await createRootCA({ now });
  const cross = await crossSignRoot(ca, newCa, now);
  const rotated = await issue(newCa, 'worker', { now, intermediatePem: cross });
  const bridged = await handshake(
    { ...serverOpts, rejectUnauthorized: true },
    { ca: ca.certPem, cert: rotated.certPem, key: rotated.keyPem, rejectUnauthorized: true },
  );
  assert.equal(bridged.serverAuthorized, true);
});
