// A node's TLS material on disk, under <data-root>/certificates with Docker's file names, and
// the CA client calls a node makes to get or renew its certificate.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { DecryptError, writeFileDurable, type RecordCipher } from '../platform/index.js';
import { checkRootDigest, createKeyAndCsr } from '../ca/index.js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  CAServiceClient,
  ManagerServiceClient,
  bootstrapChannelCredentials,
  callLeader,
  managerChannelCredentials,
  unaryCall as call,
  type IssueNodeCertificateResponse,
  type JoinRaftResponse,
  type TlsMaterial,
} from '../transport/index.js';

const CALL_TIMEOUT_MS = 10_000;

/** A manager's private key on disk is sealed with the data key (so, when autolocked, by the unlock key). */
const SEALED = 'SHOAL SEALED KEY\n';

export class CertFiles {
  constructor(private readonly dataRoot: string) {}

  get #dir(): string {
    return join(this.dataRoot, 'certificates');
  }

  async load(cipher?: RecordCipher): Promise<TlsMaterial> {
    const [rootsPem, certPem, key] = await Promise.all(
      ['swarm-root-ca.crt', 'swarm-node.crt', 'swarm-node.key'].map((f) =>
        readFile(join(this.#dir, f), 'utf8'),
      ),
    );
    let keyPem = key!;
    if (keyPem.startsWith(SEALED)) {
      if (!cipher) throw new Error('the node key is sealed and no data key was given');
      try {
        keyPem = cipher.open(Buffer.from(keyPem.slice(SEALED.length), 'base64')).toString('utf8');
      } catch (e) {
        if (!(e instanceof DecryptError)) throw e;
        // The data key opened (or, autolocked, was unwrapped by the user's key): one file is damaged.
        throw new Error(
          `${join(this.#dir, 'swarm-node.key')} cannot be opened with the data key in ${join(this.dataRoot, 'keys.json')} (${e.message}): one of the two files is damaged; restore it from a backup, or move ${this.dataRoot} aside and join the swarm again (see "Disk faults and recovery" in docs/ARCHITECTURE.md)`,
        );
      }
    }
    return { rootsPem: rootsPem!, certPem: certPem!, keyPem };
  }

  async save(m: TlsMaterial, cipher?: RecordCipher): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const key = cipher ? SEALED + cipher.seal(Buffer.from(m.keyPem)).toString('base64') + '\n' : m.keyPem;
    // The key first: a crash between files leaves an old certificate with a new key, which
    // fails loudly at the next start instead of silently using a mismatched pair.
    await writeFileDurable(join(this.#dir, 'swarm-node.key'), key);
    await writeFileDurable(join(this.#dir, 'swarm-node.crt'), m.certPem);
    await writeFileDurable(join(this.#dir, 'swarm-root-ca.crt'), m.rootsPem);
  }

  async remove(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}

const deadline = (): { deadline: number } => ({ deadline: Date.now() + CALL_TIMEOUT_MS });

/**
 * Joins a cluster: fetches the manager's root without trusting it, accepts it only if its digest
 * matches the one in the token, then asks that (now authenticated) CA for a certificate.
 */
export async function requestJoinCertificate(o: {
  manager: string;
  token: string;
  hostname: string;
  addr: string;
  availability: string;
}): Promise<{ tls: TlsMaterial; res: IssueNodeCertificateResponse }> {
  const insecure = new CAServiceClient(o.manager, bootstrapChannelCredentials(), CLUSTER_CHANNEL_OPTIONS);
  let rootsPem: string;
  try {
    rootsPem = (
      await call<{ rootsPem: string }>((cb) => insecure.getRootCa({}, new Metadata(), deadline(), cb))
    ).rootsPem;
  } finally {
    insecure.close();
  }
  checkRootDigest(o.token, rootsPem);
  const { keyPem, csrPem } = await createKeyAndCsr();
  // Only the leader adds nodes; another manager answers with the leader's address.
  const res = await onLeader(o.manager, (addr) => {
    const ca = new CAServiceClient(addr, managerChannelCredentials({ rootsPem }), CLUSTER_CHANNEL_OPTIONS);
    return call<IssueNodeCertificateResponse>((cb) =>
      ca.issueNodeCertificate(
        { csrPem, token: o.token, availability: o.availability, hostname: o.hostname, addr: o.addr },
        new Metadata(),
        deadline(),
        cb,
      ),
    ).finally(() => ca.close());
  });
  return { tls: { rootsPem: res.rootsPem, certPem: res.certificatePem, keyPem }, res };
}

/** How long a leader-only call waits, retrying every 500 ms, while the managers elect a leader. */
const NO_LEADER_WAIT_MS = 15_000;

/**
 * Runs a leader-only call, following a not-leader answer to the leader it names, and waiting
 * (up to 15 s) while the managers elect one.
 */
export function onLeader<T>(first: string, fn: (addr: string) => Promise<T>): Promise<T> {
  return callLeader(
    { managers: [first], retryForMs: NO_LEADER_WAIT_MS, retryDelayMs: 500, maxRetryDelayMs: 500 },
    fn,
  );
}

/** Adds this manager to the Raft group (through the leader); returns its Raft ID and the members. */
export function joinRaft(manager: string, tls: TlsMaterial, addr: string): Promise<JoinRaftResponse> {
  return onLeader(manager, (to) => {
    const c = new ManagerServiceClient(to, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS);
    return call<JoinRaftResponse>((cb) =>
      c.joinRaft({ addr }, new Metadata(), { deadline: Date.now() + 30_000 }, cb),
    ).finally(() => c.close());
  });
}

/** Renews this node's certificate with a manager, proving identity with the current one. */
export async function renewCertificate(manager: string, current: TlsMaterial): Promise<TlsMaterial> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const res = await onLeader(manager, (addr) => {
    const ca = new CAServiceClient(addr, managerChannelCredentials(current), CLUSTER_CHANNEL_OPTIONS);
    return call<IssueNodeCertificateResponse>((cb) =>
      ca.issueNodeCertificate(
        { csrPem, token: '', availability: '', hostname: '', addr: '' },
        new Metadata(),
        deadline(),
        cb,
      ),
    ).finally(() => ca.close());
  });
  return { rootsPem: res.rootsPem, certPem: res.certificatePem, keyPem };
}
