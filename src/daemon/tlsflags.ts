// The daemon's side of the TLS flags (engineclient/tlsflags.ts holds the flags both programs share):
// what shoald's --tls and --tlsverify mean for its Engine API listeners.
import type { ApiTlsConfig } from '../httpapi/index.js';
import type { TlsFlags } from '../engineclient/index.js';

/**
 * dockerd's rules: any --tlsverify, even =false, turns TLS on; --tlsverify requires client
 * certificates; --tls alone encrypts without authenticating clients (the documented daemon mode).
 */
export function daemonTls(o: TlsFlags): ApiTlsConfig {
  const on = o.tlsverify !== undefined || o.tls === true;
  return {
    mode: !on ? 'off' : o.tlsverify ? 'verify' : 'tls',
    explicit: o.tls !== undefined || o.tlsverify !== undefined,
    caFile: o.tlscacert,
    certFile: o.tlscert,
    keyFile: o.tlskey,
  };
}
