// The Engine API's tcp addresses as dockerd reads them, shared by the daemon's listeners and the
// CLI (which must not load the daemon to parse its -H).

/** Plain HTTP's and TLS's default Engine API ports (IANA's docker and docker-s). */
export const PLAIN_PORT = 2375;
export const TLS_PORT = 2376;

/** tcp://host:port, tcp://[v6]:port, tcp://host or tcp://:port, as dockerd reads them. */
export function parseTcpHost(h: string, tls: boolean): { host: string; port: number } {
  const rest = h.replace(/^tcp:\/\//, '').replace(/\/$/, '');
  const m = /^\[([^\]]+)\](?::(\d*))?$/.exec(rest) ?? /^([^:/[\]]*)(?::(\d*))?$/.exec(rest);
  if (!m) throw new Error(`bad tcp address ${h}: use tcp://host:port`);
  const port = m[2] ? Number(m[2]) : tls ? TLS_PORT : PLAIN_PORT;
  if (!Number.isInteger(port) || port > 65535) throw new Error(`bad port in ${h}`);
  // An empty host is dockerd's default host, localhost.
  return { host: m[1] || 'localhost', port };
}
