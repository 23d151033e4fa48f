// TLS credentials for the cluster port. The server asks every client for a certificate but lets
// the handshake finish without one: a joining node has no certificate yet and may only call the
// CA. Every other handler authenticates the caller itself (see peer.ts), so the TLS layer's
// leniency never grants access on its own.
import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { isShoalError } from '../api/index.js';
import { identityOf } from '../ca/index.js';
import type { PeerCertificate } from 'node:tls';

export interface TlsMaterial {
  /** PEM bundle of trusted roots. */
  rootsPem: string;
  /** Leaf certificate PEM (followed by an intermediate during a root rotation). */
  certPem: string;
  keyPem: string;
}

export class ClusterServerCredentials extends ServerCredentials {
  constructor(m: TlsMaterial) {
    super(
      { requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      { ca: m.rootsPem, cert: m.certPem, key: m.keyPem },
    );
  }

  /** Swaps the server's certificate or trusted roots (renewal, root rotation) without a restart. */
  update(m: TlsMaterial): void {
    this.updateSecureContextOptions({ ca: m.rootsPem, cert: m.certPem, key: m.keyPem });
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * Credentials for calling a manager. The server's certificate must chain to our roots; its
 * name is a node ID, not a host name, so the host-name check is replaced by a role check.
 */
export function managerChannelCredentials(
  m: Partial<TlsMaterial> & { rootsPem: string },
): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(m.rootsPem),
    m.keyPem ? Buffer.from(m.keyPem) : null,
    m.certPem ? Buffer.from(m.certPem) : null,
    { checkServerIdentity: (_host, cert) => checkManagerCertificate(cert) },
  );
}

/**
 * Credentials for a node that does not know the cluster's root yet: the only thing it may do
 * with them is fetch the root, which it then checks against the digest in its join token.
 */
export function bootstrapChannelCredentials(): ChannelCredentials {
  return credentials.createSsl(null, null, null, { rejectUnauthorized: false });
}

function checkManagerCertificate(cert: PeerCertificate): Error | undefined {
  if (!cert.raw) return new Error('the manager presented no certificate');
  try {
    const id = identityOf(cert.raw);
    return id.role === 'manager' ? undefined : new Error(`node ${id.nodeId} is not a manager`);
  } catch (e) {
    return isShoalError(e, 'ca') ? e : new Error(String(e));
  }
}

/**
 * Channel options every client of the cluster port uses. Managers are addressed by IP, but TLS
 * server names must be host names (RFC 6066), so the TLS name is the role all managers carry.
 */
export const CLUSTER_CHANNEL_OPTIONS = {
  'grpc.ssl_target_name_override': 'swarm-manager',
  'grpc.default_authority': 'swarm-manager',
} as const;
