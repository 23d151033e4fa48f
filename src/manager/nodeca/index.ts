// The cluster CA as a service: hands out the root to nodes that are joining (they check it
// against the digest in their token), issues node certificates for a valid join token, and
// renews certificates for nodes that present their current one. Identity is always decided
// here: the node ID is new on join and the role follows the token (later: the node's spec).
import { status } from '@grpc/grpc-js';
import { isoTime, type Clock } from '../../platform/index.js';
import { newId, type Node, type NodeAvailability } from '../../api/index.js';
import {
  CAError,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  JoinRateLimiter,
  joinTokenMatches,
  parseJoinToken,
  signNodeCertificate,
  tlsInfoOf,
  type NodeIdentity,
  type NodeRole,
} from '../../ca/index.js';
import {
  RpcError,
  authorize,
  authorizeIdentity,
  peerIdentity,
  unary,
  type CAServiceServer,
  type IssueNodeCertificateRequest,
  type IssueNodeCertificateResponse,
  type PeerPolicy,
} from '../../transport/index.js';
import type { MemoryStore } from '../../state/index.js';

/** Docker's message for a token that is not this cluster's. */
export const INVALID_JOIN_TOKEN = 'A valid join token is necessary to join this cluster';

const AVAILABILITIES: readonly string[] = ['active', 'pause', 'drain'];

export class NodeCA {
  // Ten joins a second per address with bursts of twenty: a cluster joining at once is fine, a
  // token-guessing loop is not.
  #limiter: JoinRateLimiter;

  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void,
  ) {
    this.#limiter = new JoinRateLimiter({ perSecond: 10, burst: 20, now: () => this.clock.now() });
  }

  #cluster() {
    const c = this.store.view((tx) => tx.cluster());
    if (!c?.RootCA) throw new RpcError(status.UNAVAILABLE, 'this manager has no cluster CA');
    return { ...c, RootCA: c.RootCA };
  }

  rootsPem(): string {
    return this.#cluster().RootCA.CACert;
  }

  /**
   * Node IDs are never reused, so a certificate whose node is no longer in the store belongs to
   * a removed node (`node rm`): that is the blocklist.
   */
  policy(): PeerPolicy {
    return {
      clusterId: () => this.store.view((tx) => tx.cluster()?.ID ?? ''),
      isRemoved: (nodeId) => this.store.view((tx) => !tx.get('nodes', nodeId)),
    };
  }

  /** Signs a certificate for an identity this manager decided. */
  async sign(csrPem: string, subject: { nodeId: string; role: NodeRole }): Promise<string> {
    const c = this.#cluster();
    const expiryNs = c.Spec.CAConfig?.NodeCertExpiry;
    return signNodeCertificate(
      { certPem: c.RootCA.CACert, keyPem: c.RootCA.CAKey },
      csrPem,
      { ...subject, clusterId: c.ID },
      { now: this.clock.now(), validityMs: expiryNs ? expiryNs / 1e6 : DEFAULT_NODE_CERT_VALIDITY_MS },
    );
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
      if (!peer) throw new RpcError(status.UNAUTHENTICATED, INVALID_JOIN_TOKEN);
      const id = authorizeIdentity(peer, this.policy(), ['worker', 'manager']);
      const node = this.store.view((tx) => tx.get('nodes', id.nodeId))!;
      const role = node.Spec.Role ?? id.role;
      const certificatePem = await this.#signOrReject(req.csrPem, { nodeId: id.nodeId, role });
      return { nodeId: id.nodeId, certificatePem, rootsPem: c.RootCA.CACert, role, managers };
    }
    if (!this.#limiter.take(remoteHost))
      throw new RpcError(
        status.RESOURCE_EXHAUSTED,
        'too many join attempts from this address; try again later',
      );
    let role: NodeRole;
    try {
      parseJoinToken(req.token);
    } catch {
      throw new RpcError(status.INVALID_ARGUMENT, INVALID_JOIN_TOKEN);
    }
    if (joinTokenMatches(req.token, c.JoinTokens.Worker)) role = 'worker';
    else if (joinTokenMatches(req.token, c.JoinTokens.Manager)) role = 'manager';
    else throw new RpcError(status.INVALID_ARGUMENT, INVALID_JOIN_TOKEN);
    if (role === 'manager')
      throw new RpcError(
        status.FAILED_PRECONDITION,
        'joining as a manager needs replicated manager state (Raft), which this shoal build does not have yet; join as a worker',
      );
    const availability = req.availability || 'active';
    if (!AVAILABILITIES.includes(availability))
      throw new RpcError(status.INVALID_ARGUMENT, `invalid availability "${availability}"`);
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
        TLSInfo: tlsInfoOf(c.RootCA.CACert),
      },
      Status: { State: 'unknown', Addr: req.addr },
    };
    await this.store.update((tx) => tx.create('nodes', node));
    this.log(`node ${nodeId} (${req.hostname}) joined as a ${role}`);
    return { nodeId, certificatePem, rootsPem: c.RootCA.CACert, role, managers };
  }

  async #signOrReject(csrPem: string, subject: { nodeId: string; role: NodeRole }): Promise<string> {
    try {
      return await this.sign(csrPem, subject);
    } catch (e) {
      if (e instanceof CAError)
        throw new RpcError(status.INVALID_ARGUMENT, `certificate request refused: ${e.message}`);
      throw e;
    }
  }

  /** The CA's gRPC service; unlockKey reads the managers' current unlock key. */
  service(unlockKey: () => string): CAServiceServer {
    return {
      getUnlockKey: unary((call) => {
        authorize(call, this.policy(), ['manager']);
        return Promise.resolve({ unlockKey: unlockKey() });
      }, this.log),
      getRootCa: unary(() => Promise.resolve({ rootsPem: this.rootsPem() }), this.log),
      issueNodeCertificate: unary(
        (call) => this.issue(call.request, peerIdentity(call), hostOf(call.getPeer())),
        this.log,
      ),
    };
  }
}

/** "ipv4:1.2.3.4:5678" or "1.2.3.4:5678" or "[::1]:5678" → the host part. */
function hostOf(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const i = p.lastIndexOf(':');
  return (i > 0 ? p.slice(0, i) : p).replace(/^\[|\]$/g, '');
}
