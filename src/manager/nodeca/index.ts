// The cluster CA as a service: hands out the root to nodes that are joining (they check it
// against the digest in their token), issues node certificates for a valid join token, and
// renews certificates for nodes that present their current one. Identity is always decided
// here: the node ID is new on join and the role follows the token (later: the node's spec).
import { isoTime, type Clock } from '../../platform/index.js';
import {
  isShoalError,
  newId,
  ShoalError,
  type TlsTarget,
  type Cluster,
  type ClusterRootCA,
  type Node,
  type NodeAvailability,
  type TLSInfo,
} from '../../api/index.js';
import {
  DEFAULT_NODE_CERT_VALIDITY_MS,
  createRootCA,
  crossSignRoot,
  rebaseJoinToken,
  JoinRateLimiter,
  joinTokenMatches,
  parseJoinToken,
  signNodeCertificate,
  tlsInfoOf,
  type NodeIdentity,
  type NodeRole,
} from '../../ca/index.js';
import {
  authorize,
  authorizeIdentity,
  peerIdentity,
  unary,
  type CAServiceServer,
  type IssueNodeCertificateRequest,
  type IssueNodeCertificateResponse,
  type PeerPolicy,
} from '../../transport/index.js';
import type { MemoryStore, StoreEvent } from '../../state/index.js';

/** Docker's message for a token that is not this cluster's. */
const INVALID_JOIN_TOKEN = 'A valid join token is necessary to join this cluster';

const AVAILABILITIES: readonly string[] = ['active', 'pause', 'drain'];

/** A new root for a rotation, cross-signed by the current one so that old trust accepts new certificates. */
export async function newRootRotation(
  current: ClusterRootCA,
  now: number,
): Promise<NonNullable<ClusterRootCA['Rotation']>> {
  const next = await createRootCA({ now });
  const cross = await crossSignRoot({ certPem: current.CACert, keyPem: current.CAKey }, next, now);
  return { CACert: next.certPem, CAKey: next.keyPem, CrossSignedCACert: cross };
}

const pemJoin = (...pems: string[]): string => pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');

/** During a rotation nodes trust both roots and get certificates from the new one. */
export function tlsTarget(root: ClusterRootCA): TlsTarget {
  return root.Rotation
    ? { rootsPem: pemJoin(root.CACert, root.Rotation.CACert), issuerPem: root.Rotation.CACert }
    : { rootsPem: root.CACert, issuerPem: root.CACert };
}

/** Docker's TLSInfo of a node: the roots it trusts and the issuer of its certificate. */
function nodeTlsInfo(root: ClusterRootCA): TLSInfo {
  const t = tlsTarget(root);
  return { ...tlsInfoOf(t.issuerPem), TrustRoot: t.rootsPem };
}

export class NodeCA {
  // Ten joins a second per address with bursts of twenty: a cluster joining at once is fine, a
  // token-guessing loop is not.
  #limiter: JoinRateLimiter;

  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void,
    /** The cluster this manager belongs to, from its own certificate. */
    private readonly clusterId = '',
  ) {
    this.#limiter = new JoinRateLimiter({ perSecond: 10, burst: 20, now: () => this.clock.now() });
  }

  #cluster() {
    const c = this.store.view((tx) => tx.cluster());
    if (!c?.RootCA) throw new ShoalError('Unavailable', 'this manager has no cluster CA');
    return { ...c, RootCA: c.RootCA };
  }

  /** The root a joining node checks against its token's digest (the old one during a rotation). */
  rootPem(): string {
    return this.#cluster().RootCA.CACert;
  }

  target(): TlsTarget {
    return tlsTarget(this.#cluster().RootCA);
  }

  #unsubscribe: (() => void) | undefined;

  /** Leader loop: finishes a root rotation once every node holds a certificate of the new root. */
  start(): void {
    this.#unsubscribe = this.store.subscribe((e: StoreEvent) => {
      if (e.kind === 'commit') this.#maybeFinishRotation();
    });
    this.#maybeFinishRotation();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #finishing = false;
  #maybeFinishRotation(): void {
    if (this.#finishing) return;
    const done = this.store.view((tx) => {
      const rot = tx.cluster()?.RootCA?.Rotation;
      if (!rot) return false;
      const want = tlsInfoOf(rot.CACert).CertIssuerPublicKey;
      return tx.all('nodes').every((n) => n.Description.TLSInfo?.CertIssuerPublicKey === want);
    });
    if (!done) return;
    this.#finishing = true;
    void this.store
      .update((tx) => {
        const c = tx.cluster();
        const rot = c?.RootCA?.Rotation;
        if (!c || !rot) return;
        const next = structuredClone(c) as Cluster;
        next.RootCA = { CACert: rot.CACert, CAKey: rot.CAKey };
        next.RootRotationInProgress = false;
        // Tokens name the root by digest: same secrets, new root.
        next.JoinTokens = {
          Worker: rebaseJoinToken(c.JoinTokens.Worker, rot.CACert),
          Manager: rebaseJoinToken(c.JoinTokens.Manager, rot.CACert),
        };
        next.UpdatedAt = isoTime(this.clock.now());
        tx.update('clusters', next);
      })
      .then(() => this.log('root rotation complete: every node holds a certificate of the new root'))
      .catch((e: unknown) => this.log(`finishing the root rotation failed: ${(e as Error).message}`))
      .finally(() => (this.#finishing = false));
  }

  /**
   * Node IDs are never reused, so a certificate whose node is no longer in the store belongs to
   * a removed node (`node rm`): that is the blocklist.
   */
  /**
   * Who may call. A manager that has just joined has no state yet: it goes by the cluster ID its
   * certificate names, and cannot tell a removed node from one it has not heard of, so it lets
   * nodes in until its store holds the cluster.
   */
  policy(): PeerPolicy {
    return {
      clusterId: () => this.store.view((tx) => tx.cluster()?.ID ?? this.clusterId),
      isRemoved: (nodeId) => this.store.view((tx) => tx.cluster() !== undefined && !tx.get('nodes', nodeId)),
    };
  }

  /** Signs a certificate for an identity this manager decided, and records the node's new TLS info. */
  async sign(csrPem: string, subject: { nodeId: string; role: NodeRole }): Promise<string> {
    const c = this.#cluster();
    const expiryNs = c.Spec.CAConfig?.NodeCertExpiry;
    const rot = c.RootCA.Rotation;
    const certPem = await signNodeCertificate(
      rot ? { certPem: rot.CACert, keyPem: rot.CAKey } : { certPem: c.RootCA.CACert, keyPem: c.RootCA.CAKey },
      csrPem,
      { ...subject, clusterId: c.ID },
      {
        now: this.clock.now(),
        validityMs: expiryNs ? expiryNs / 1e6 : DEFAULT_NODE_CERT_VALIDITY_MS,
        ...(rot ? { intermediatePem: rot.CrossSignedCACert } : {}),
      },
    );
    const info = nodeTlsInfo(c.RootCA);
    await this.store.update((tx) => {
      const n = tx.get('nodes', subject.nodeId);
      if (!n) return;
      tx.update('nodes', { ...n, Description: { ...n.Description, TLSInfo: info } });
    });
    return certPem;
  }

  async issue(
    req: IssueNodeCertificateRequest,
    peer: NodeIdentity | undefined,
    remoteHost: string,
  ): Promise<IssueNodeCertificateResponse> {
    const c = this.#cluster();
    const managers = this.store.view((tx) =>
      tx.by('nodes', 'role', 'manager').flatMap((n) => (n.ManagerStatus?.Addr ? [n.ManagerStatus.Addr] : [])),
    );
    if (!req.token) {
      // Renewal: the caller proves who it is with its current certificate.
      if (!peer) throw new ShoalError('Unauthenticated', INVALID_JOIN_TOKEN);
      const id = authorizeIdentity(peer, this.policy(), ['worker', 'manager']);
      const node = this.store.view((tx) => tx.get('nodes', id.nodeId))!;
      const role = node.Spec.Role ?? id.role;
      const certificatePem = await this.#signOrReject(req.csrPem, { nodeId: id.nodeId, role });
      return { nodeId: id.nodeId, certificatePem, rootsPem: tlsTarget(c.RootCA).rootsPem, role, managers };
    }
    if (!this.#limiter.take(remoteHost))
      throw new ShoalError('ResourceExhausted', 'too many join attempts from this address; try again later');
    let role: NodeRole;
    try {
      parseJoinToken(req.token);
    } catch {
      throw new ShoalError('InvalidArgument', INVALID_JOIN_TOKEN);
    }
    if (joinTokenMatches(req.token, c.JoinTokens.Worker)) role = 'worker';
    else if (joinTokenMatches(req.token, c.JoinTokens.Manager)) role = 'manager';
    else throw new ShoalError('InvalidArgument', INVALID_JOIN_TOKEN);
    const availability = req.availability || 'active';
    if (!AVAILABILITIES.includes(availability))
      throw new ShoalError('InvalidArgument', `invalid availability "${availability}"`);
    const nodeId = newId();
    const certificatePem = await this.#signOrReject(req.csrPem, { nodeId, role });
    const now = isoTime(this.clock.now());
    const node: Node = {
      ID: nodeId,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Labels: {}, Role: role, Availability: availability as NodeAvailability },
      // The rest of the description arrives with the node's first session.
      Description: {
        Hostname: req.hostname,
        Platform: { Architecture: '', OS: '' },
        Resources: { NanoCPUs: 0, MemoryBytes: 0 },
        Engine: { EngineVersion: '' },
        TLSInfo: nodeTlsInfo(c.RootCA),
      },
      Status: { State: 'unknown', Addr: req.addr },
    };
    await this.store.update((tx) => tx.create('nodes', node));
    this.log(`node ${nodeId} (${req.hostname}) joined as a ${role}`);
    return { nodeId, certificatePem, rootsPem: tlsTarget(c.RootCA).rootsPem, role, managers };
  }

  async #signOrReject(csrPem: string, subject: { nodeId: string; role: NodeRole }): Promise<string> {
    try {
      return await this.sign(csrPem, subject);
    } catch (e) {
      if (isShoalError(e, 'ca'))
        throw new ShoalError('InvalidArgument', `certificate request refused: ${e.message}`);
      throw e;
    }
  }

  /**
   * The CA's gRPC service; unlockKey reads the managers' current unlock key. Issuing writes the
   * node's record, so only the leader issues: requireLeader throws a not-leader error elsewhere.
   */
  service(unlockKey: () => string, requireLeader: () => void = () => undefined): CAServiceServer {
    return {
      getUnlockKey: unary((call) => {
        authorize(call, this.policy(), ['manager']);
        return Promise.resolve({ unlockKey: unlockKey() });
      }, this.log),
      getRootCa: unary(() => Promise.resolve({ rootsPem: this.rootPem() }), this.log),
      issueNodeCertificate: unary((call) => {
        requireLeader();
        return this.issue(call.request, peerIdentity(call), hostOf(call.getPeer()));
      }, this.log),
    };
  }
}

/** "ipv4:1.2.3.4:5678" or "1.2.3.4:5678" or "[::1]:5678" → the host part. */
function hostOf(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const i = p.lastIndexOf(':');
  return (i > 0 ? p.slice(0, i) : p).replace(/^\[|\]$/g, '');
}
