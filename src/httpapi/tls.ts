// TLS on the Engine API's tcp listeners, with dockerd's rules: --tlsverify requires and verifies a
// client certificate, --tls alone only encrypts. Whoever can talk to this API controls the cluster
// (and root on every node, through the containers it runs), so a tcp listener that does not verify
// clients is announced, loudly when it is reachable from other machines.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { PLAIN_PORT, TLS_PORT, parseTcpHost } from '../api/index.js';
import { splitPemCertificates } from '../ca/index.js';

export type ApiTlsMode = 'off' | 'tls' | 'verify';

/** The daemon's TLS flags, resolved: files not read yet. */
export interface ApiTlsConfig {
  mode: ApiTlsMode;
  /** --tls or --tlsverify was given with any value: the operator stated an intent (dockerd's rule). */
  explicit: boolean;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Certificate material read and checked, ready for https.createServer. */
export interface ServerTls {
  /** Require a client certificate signed by `ca`. */
  verify: boolean;
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export { PLAIN_PORT, TLS_PORT, parseTcpHost };

/**
 * Only what certainly stays on this machine counts as loopback: 127.0.0.0/8, ::1 (also mapped) and
 * the name localhost. Any other name may resolve anywhere, so it counts as reachable.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

export interface ListenerNotice {
  level: 'info' | 'warn';
  lines: string[];
  /** How long to hold the listener back so the warning is seen. */
  delayMs: number;
}

/** dockerd's pause before serving an unauthenticated API on the network without a stated intent. */
export const INSECURE_DELAY_MS = 15_000;

/**
 * What to say before serving the API on a tcp address, and how long to wait. dockerd (since 20.10,
 * unchanged through 28): any tcp listener without client verification gets warnings and a 1 s
 * pause; a non-loopback one with neither --tls nor --tlsverify given gets more warnings and a 15 s
 * pause ('--tls=false' or '--tlsverify=false' states the intent and skips it). Its docs announce a
 * hard failure from v27 that its code has not made. We keep the warnings and the 15 s pause for a
 * reachable address, and drop the 1 s pause: a loopback listener (tests, local tools) gets one
 * info line and starts at once.
 */
export function tcpListenerNotice(
  addr: string,
  host: string,
  tls: { mode: ApiTlsMode; explicit: boolean },
): ListenerNotice | undefined {
  if (tls.mode === 'verify') return undefined;
  const what = tls.mode === 'tls' ? 'over TLS without client verification' : 'without TLS';
  if (isLoopbackHost(host))
    return {
      level: 'info',
      lines: [
        `API on ${addr} ${what}: any process on this machine, and scripts in a local browser, can drive the cluster; use --tlsverify or a unix socket`,
      ],
      delayMs: 0,
    };
  const lines = [
    `Binding to IP address without --tlsverify is insecure and gives full control of the cluster, and root on every node through the containers it runs, to everyone who has access to your network. host=${addr}`,
    `Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there! host=${addr}`,
  ];
  if (tls.explicit) return { level: 'warn', lines, delayMs: 0 };
  return {
    level: 'warn',
    lines: [
      ...lines,
      `Binding to an IP address without --tlsverify: startup is intentionally delayed ${INSECURE_DELAY_MS / 1000} s to show this message. host=${addr}`,
      `Please generate TLS certificates and use --tlsverify --tlscacert --tlscert --tlskey so that only clients with a certificate from your CA get in. host=${addr}`,
      `You can skip the delay by explicitly specifying '--tls=false' or '--tlsverify=false'. host=${addr}`,
    ],
    delayMs: INSECURE_DELAY_MS,
  };
}

async function readTlsFile(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.message;
    throw new Error(`${flag} ${path}: cannot read it: ${why}`);
  }
}

/**
 * Reads and checks the files the flags name, so a bad one stops the daemon at startup with the
 * file's name, not later with an OpenSSL error on the first connection.
 */
export async function loadServerTls(c: ApiTlsConfig): Promise<ServerTls | undefined> {
  if (c.mode === 'off') return undefined;
  const cert = await readTlsFile('--tlscert', c.certFile);
  const key = await readTlsFile('--tlskey', c.keyFile);
  const certs = splitPemCertificates(cert.toString('utf8'));
  if (certs.length === 0) throw new Error(`--tlscert ${c.certFile}: no PEM certificate in it`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]!);
  } catch (e) {
    throw new Error(`--tlscert ${c.certFile}: not a valid certificate: ${(e as Error).message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new Error(`--tlskey ${c.keyFile}: not a valid PEM private key: ${(e as Error).message}`);
  }
  if (!leaf.checkPrivateKey(privateKey))
    throw new Error(`--tlskey ${c.keyFile} does not match the certificate in --tlscert ${c.certFile}`);
  if (c.mode === 'tls') return { verify: false, cert, key };
  const ca = await readTlsFile('--tlscacert', c.caFile);
  const roots = splitPemCertificates(ca.toString('utf8'));
  if (roots.length === 0) throw new Error(`--tlscacert ${c.caFile}: no PEM certificate in it`);
  for (const r of roots) {
    try {
      new X509Certificate(r);
    } catch (e) {
      throw new Error(`--tlscacert ${c.caFile}: not a valid certificate: ${(e as Error).message}`);
    }
  }
  return { verify: true, cert, key, ca };
}
