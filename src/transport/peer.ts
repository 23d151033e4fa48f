// Who is calling: every cluster RPC handler starts by authenticating its caller from the TLS
// peer certificate. grpc-js only exposes a certificate that the TLS layer verified against our
// roots (including its validity period), and we add what TLS cannot know: the certificate's
// cluster (O), its role (OU), and whether its node has been removed from the cluster.
import { ShoalError } from '../api/index.js';
import { identityOf, type NodeIdentity, type NodeRole } from '../ca/index.js';

export interface PeerPolicy {
  clusterId: () => string;
  /** True when the node was removed (`node rm`): its certificate no longer admits it. */
  isRemoved: (nodeId: string) => boolean;
}

interface CallWithAuth {
  getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } | null;
}

/**
 * Identities of recently seen certificates, by DER. Parsing the certificate on every call took
 * 0.5 s of CPU while a 100-task service started and was removed (agents make several calls per
 * task); the identity is a pure function of the certificate, and TLS has checked its chain and dates.
 */
const identities = new Map<string, NodeIdentity | undefined>();
const MAX_CACHED_IDENTITIES = 1024;

/** The caller's identity, if it presented a certificate that chains to our roots and is in date. */
export function peerIdentity(call: CallWithAuth): NodeIdentity | undefined {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (!raw) return undefined;
  const key = raw.toString('latin1');
  if (identities.has(key)) return identities.get(key);
  let id: NodeIdentity | undefined;
  try {
    id = Object.freeze(identityOf(raw));
  } catch {
    id = undefined;
  }
  if (identities.size >= MAX_CACHED_IDENTITIES) identities.clear();
  identities.set(key, id);
  return id;
}

/** Authenticates and authorises the caller; throws ShoalError Unauthenticated / PermissionDenied. */
export function authorize(call: CallWithAuth, policy: PeerPolicy, roles: readonly NodeRole[]): NodeIdentity {
  return authorizeIdentity(peerIdentity(call), policy, roles);
}

export function authorizeIdentity(
  id: NodeIdentity | undefined,
  policy: PeerPolicy,
  roles: readonly NodeRole[],
): NodeIdentity {
  if (!id) throw new ShoalError('Unauthenticated', 'a valid certificate issued by this cluster is required');
  if (id.clusterId !== policy.clusterId())
    throw new ShoalError('PermissionDenied', `certificate belongs to another cluster (${id.clusterId})`);
  if (!roles.includes(id.role))
    throw new ShoalError('PermissionDenied', `role ${id.role} may not call this method`);
  if (policy.isRemoved(id.nodeId))
    throw new ShoalError('PermissionDenied', `node ${id.nodeId} was removed from the cluster`);
  return id;
}
