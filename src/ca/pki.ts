import type * as X509 from '@peculiar/x509';
import { X509Certificate as NodeX509, randomBytes } from 'node:crypto';
import { ShoalError } from '../api/index.js';

// Node 20's global WebCrypto; typed by the DOM lib, which is what @peculiar/x509 expects.
const webcrypto = globalThis.crypto;

let x509Loaded: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509 (with reflect-metadata) costs about 20 MB of resident memory, and only making
 * certificates needs it: parsing and verifying use node:crypto. So it loads on first use.
 */
function loadX509(): Promise<typeof X509> {
  x509Loaded ??= import('reflect-metadata').then(async () => {
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto);
    return x509;
  });
  return x509Loaded;
}

export type NodeRole = 'manager' | 'worker';
export const MANAGER_OU = 'swarm-manager';
export const WORKER_OU = 'swarm-worker';
/** CN of every root, and a DNS name managers carry so clients can address "the CA". */
export const ROOT_CN = 'swarm-ca';

export const ROOT_VALIDITY_MS = 20 * 365 * 24 * 3600_000;
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * 24 * 3600_000;
/** Certificates start this far in the past so a peer whose clock is slightly behind accepts them. */
export const CLOCK_SKEW_MS = 60_000;

const MAX_PEM_BYTES = 64 * 1024;
const MAX_CHAIN_CERTS = 8;

export interface CertKey {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  /** ms since the epoch */
  notBefore: number;
  notAfter: number;
  /** lowercase hex */
  serial: string;
}

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

const ROLE_BY_OU: ReadonlyMap<string, NodeRole> = new Map([
  [MANAGER_OU, 'manager'],
  [WORKER_OU, 'worker'],
]);
const OU_BY_ROLE: Record<NodeRole, string> = { manager: MANAGER_OU, worker: WORKER_OU };

// Node and cluster IDs are generated base-36 IDs; this also keeps them valid as DNS SANs.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

async function newKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const x509 = await loadX509();
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  const x509 = await loadX509();
  const der = x509.PemConverter.decodeFirst(keyPem);
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}

/** Positive, non-zero 128-bit serial (first byte 0x01..0x7f keeps DER from adding a sign byte). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b.toString('hex');
}

function caExtensions(x509: typeof X509, ski: X509.SubjectKeyIdentifierExtension): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ski,
  ];
}

function subjectKeyId(x509: typeof X509, cert: X509.X509Certificate): string {
  const ext = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ext === null)
    throw new ShoalError('UntrustedCertificate', 'issuer certificate has no subject key identifier');
  return ext.keyId;
}

export async function createRootCA(o: { now: number; validityMs?: number }): Promise<CertKey> {
  const x509 = await loadX509();
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [ROOT_CN] }],
    notBefore: new Date(o.now - CLOCK_SKEW_MS),
    notAfter: new Date(o.now + (o.validityMs ?? ROOT_VALIDITY_MS)),
    signingAlgorithm: SIGNING,
    keys,
    extensions: caExtensions(x509, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)),
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export async function createKeyAndCsr(): Promise<{ keyPem: string; csrPem: string }> {
  const x509 = await loadX509();
  const keys = await newKeyPair();
  // The CA assigns the identity; the CSR only proves possession of the key.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: ['swarm-node'] }],
    keys,
    signingAlgorithm: SIGNING,
  });
  return { keyPem: await exportKeyPem(keys.privateKey), csrPem: csr.toString('pem') };
}

async function parseVerifiedCsr(x509: typeof X509, csrPem: string): Promise<X509.Pkcs10CertificateRequest> {
  if (csrPem.length > MAX_PEM_BYTES) throw new ShoalError('BadCsr', 'CSR too large');
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new ShoalError('BadCsr', `cannot parse CSR: ${(err as Error).message}`);
  }
  let ok: boolean;
  try {
    ok = await csr.verify();
  } catch (err) {
    throw new ShoalError('BadCsr', `cannot verify CSR: ${(err as Error).message}`);
  }
  if (!ok) throw new ShoalError('BadCsr', 'CSR signature does not verify');
  return csr;
}

/**
 * Issues a node certificate for the CSR's key. The subject comes from the CA, never the CSR.
 * Returns the leaf PEM, followed by `intermediatePem` when given (the cross-signed new root
 * during rotation, so peers still trusting only the old root accept it).
 */
export async function signNodeCertificate(
  issuer: CertKey,
  csrPem: string,
  subject: { nodeId: string; role: NodeRole; clusterId: string },
  o: { now: number; validityMs: number; intermediatePem?: string },
): Promise<string> {
  if (!ID_RE.test(subject.nodeId) || !ID_RE.test(subject.clusterId)) {
    throw new ShoalError(
      'BadIdentity',
      `invalid node or cluster ID: ${subject.nodeId} / ${subject.clusterId}`,
    );
  }
  const ou = OU_BY_ROLE[subject.role];
  const x509 = await loadX509();
  const csr = await parseVerifiedCsr(x509, csrPem);
  const issuerCert = new x509.X509Certificate(issuer.certPem);
  const signingKey = await importSigningKey(issuer.keyPem);
  // A certificate outliving its issuer could never verify; cap it.
  const notAfter = Math.min(o.now + o.validityMs, issuerCert.notAfter.getTime());
  const dnsNames = subject.role === 'manager' ? [ou, subject.nodeId, ROOT_CN] : [ou, subject.nodeId];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ O: [subject.clusterId] }, { OU: [ou] }, { CN: [subject.nodeId] }],
    issuer: issuerCert.subjectName,
    notBefore: new Date(o.now - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    publicKey: csr.publicKey,
    signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      new x509.AuthorityKeyIdentifierExtension(subjectKeyId(x509, issuerCert)),
    ],
  });
  const chain = [leaf.toString('pem')];
  if (o.intermediatePem !== undefined) chain.push(...splitPemCertificates(o.intermediatePem));
  return chain.join('\n') + '\n';
}

/**
 * The new root's subject and key, issued by the old root: a chain leaf → cross-signed → old root
 * verifies for nodes that have not yet learned the new root.
 */
export async function crossSignRoot(oldRoot: CertKey, newRoot: CertKey, now: number): Promise<string> {
  const x509 = await loadX509();
  const oldCert = new x509.X509Certificate(oldRoot.certPem);
  const newCert = new x509.X509Certificate(newRoot.certPem);
  const signingKey = await importSigningKey(oldRoot.keyPem);
  const notAfter = Math.min(newCert.notAfter.getTime(), oldCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: newCert.subjectName,
    issuer: oldCert.subjectName,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    publicKey: newCert.publicKey,
    signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      ...caExtensions(x509, new x509.SubjectKeyIdentifierExtension(subjectKeyId(x509, newCert))),
      new x509.AuthorityKeyIdentifierExtension(subjectKeyId(x509, oldCert)),
    ],
  });
  return cert.toString('pem');
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** The certificate PEM blocks of a bundle, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERT_RE) ?? [];
}

export function identityOf(certPemOrDer: string | Uint8Array): NodeIdentity {
  let cert: NodeX509;
  try {
    if (typeof certPemOrDer === 'string') {
      const first = splitPemCertificates(certPemOrDer)[0];
      if (first === undefined) throw new Error('no certificate in PEM');
      cert = new NodeX509(first);
    } else {
      cert = new NodeX509(Buffer.from(certPemOrDer));
    }
  } catch (err) {
    throw new ShoalError('BadIdentity', `cannot parse certificate: ${(err as Error).message}`);
  }
  // Node prints the subject one attribute per line; IDs (checked at issue) never contain newlines.
  const fields = new Map<string, string[]>();
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    fields.set(k, [...(fields.get(k) ?? []), line.slice(i + 1)]);
  }
  const one = (field: string): string => {
    const values = fields.get(field) ?? [];
    const v = values[0];
    // More than one value would make the identity ambiguous.
    if (values.length !== 1 || v === undefined || v === '') {
      throw new ShoalError('BadIdentity', `certificate subject needs exactly one ${field}`);
    }
    return v;
  };
  const ou = one('OU');
  const role = ROLE_BY_OU.get(ou);
  if (role === undefined) throw new ShoalError('BadIdentity', `unknown certificate OU ${ou}`);
  return {
    nodeId: one('CN'),
    role,
    clusterId: one('O'),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    serial: cert.serialNumber.toLowerCase(),
  };
}

interface ParsedCert {
  node: NodeX509;
  notBefore: number;
  notAfter: number;
}

function parseCerts(pem: string): ParsedCert[] {
  return splitPemCertificates(pem).map((block) => {
    const node = new NodeX509(block);
    return { node, notBefore: Date.parse(node.validFrom), notAfter: Date.parse(node.validTo) };
  });
}

function issuedBy(child: ParsedCert, parent: ParsedCert): boolean {
  // checkIssued matches names, key identifiers and the issuer's key usage; verify checks the signature.
  return parent.node.ca && child.node.checkIssued(parent.node) && child.node.verify(parent.node.publicKey);
}

function findPath(
  leaf: ParsedCert,
  intermediates: ParsedCert[],
  roots: ParsedCert[],
): ParsedCert[] | undefined {
  for (const root of roots) if (issuedBy(leaf, root)) return [leaf, root];
  for (const mid of intermediates) {
    if (!issuedBy(leaf, mid)) continue;
    for (const root of roots) if (issuedBy(mid, root)) return [leaf, mid, root];
  }
  return undefined;
}

/**
 * Verifies that the chain's first certificate chains to one of `rootsPem` (directly or through
 * one intermediate carried in the chain), that every certificate on that path is valid at `now`,
 * and returns the leaf's identity.
 */
export function verifyNodeCertificate(
  chainPem: string,
  rootsPem: readonly string[],
  now: number,
): NodeIdentity {
  if (chainPem.length > MAX_PEM_BYTES)
    throw new ShoalError('UntrustedCertificate', 'certificate chain too large');
  let chain: ParsedCert[];
  let roots: ParsedCert[];
  try {
    chain = parseCerts(chainPem);
    roots = rootsPem.flatMap((pem) => parseCerts(pem));
  } catch (err) {
    throw new ShoalError('UntrustedCertificate', `cannot parse certificate: ${(err as Error).message}`);
  }
  const leaf = chain[0];
  if (leaf === undefined) throw new ShoalError('UntrustedCertificate', 'no certificate presented');
  if (chain.length > MAX_CHAIN_CERTS)
    throw new ShoalError('UntrustedCertificate', 'certificate chain too long');
  const path = findPath(leaf, chain.slice(1), roots);
  if (path === undefined)
    throw new ShoalError('UntrustedCertificate', 'certificate is not signed by a trusted root');
  for (const cert of path) {
    if (now < cert.notBefore)
      throw new ShoalError('CertificateNotYetValid', `certificate ${cert.node.subject} is not yet valid`);
    if (now > cert.notAfter)
      throw new ShoalError('CertificateExpired', `certificate ${cert.node.subject} has expired`);
  }
  return identityOf(leaf.node.raw);
}

/**
 * Time from `now` until a point drawn uniformly in [50%, 80%] of the certificate's life, so that
 * nodes do not all renew at once; 0 when that point has passed.
 */
export function renewalDelayMs(
  id: Pick<NodeIdentity, 'notBefore' | 'notAfter'>,
  now: number,
  random: () => number,
): number {
  const life = id.notAfter - id.notBefore;
  const at = id.notBefore + life * (0.5 + 0.3 * random());
  return Math.max(0, Math.floor(at - now));
}

/** Docker's TLSInfo for a root: its PEM, and its subject and public key as base64 DER. */
export function tlsInfoOf(rootPem: string): {
  TrustRoot: string;
  CertIssuerSubject: string;
  CertIssuerPublicKey: string;
} {
  const first = splitPemCertificates(rootPem)[0] ?? rootPem;
  const { subject, spki } = subjectAndKeyDer(new NodeX509(first).raw);
  return {
    TrustRoot: rootPem,
    CertIssuerSubject: subject.toString('base64'),
    CertIssuerPublicKey: spki.toString('base64'),
  };
}

/**
 * The DER of a certificate's subject Name and SubjectPublicKeyInfo, read from the TBSCertificate:
 * [0] version, serial, signature algorithm, issuer, validity, subject, subjectPublicKeyInfo.
 */
function subjectAndKeyDer(der: Buffer): { subject: Buffer; spki: Buffer } {
  const tlv = (buf: Buffer, at: number): { start: number; body: number; end: number } => {
    const first = buf[at + 1];
    if (first === undefined) throw new ShoalError('BadIdentity', 'truncated certificate');
    let len = first;
    let body = at + 2;
    if (first & 0x80) {
      const n = first & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (buf[at + 2 + i] ?? 0);
      body = at + 2 + n;
    }
    return { start: at, body, end: body + len };
  };
  const cert = tlv(der, 0);
  const tbs = tlv(der, cert.body);
  let at = tbs.body;
  if (der[at] === 0xa0) at = tlv(der, at).end; // explicit [0] version
  for (let i = 0; i < 4; i++) at = tlv(der, at).end; // serial, signature, issuer, validity
  const subject = tlv(der, at);
  const spki = tlv(der, subject.end);
  return {
    subject: der.subarray(subject.start, subject.end),
    spki: der.subarray(spki.start, spki.end),
  };
}

/** True when the chain's leaf was signed by this root's key. */
export function signedByRoot(chainPem: string, rootPem: string): boolean {
  const leaf = splitPemCertificates(chainPem)[0];
  const root = splitPemCertificates(rootPem)[0];
  if (!leaf || !root) return false;
  return new NodeX509(leaf).verify(new NodeX509(root).publicKey);
}
