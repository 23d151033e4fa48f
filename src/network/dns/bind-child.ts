// Run inside a sandbox namespace (`nsenter --net=… node bind-child.js <host> <port>`): binds the
// resolver's UDP socket and TCP server on <host>:<port> there and hands both to the parent over
// IPC, then exits. Node cannot setns, and a socket stays in the namespace it was created in, so
// the parent serves the sandbox from the daemon's namespace with these handles.
import dgram from 'node:dgram';
import net from 'node:net';

const host = process.argv[2] ?? '';
const port = Number(process.argv[3] ?? '53');

// However the parent fares, this process does not outlive a few seconds.
setTimeout(() => process.exit(3), 10_000);
process.on('disconnect', () => process.exit(0));

function fail(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  process.send?.({ kind: 'error', message }, () => process.exit(2));
}

const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(host) });
udp.once('error', fail);
udp.bind({ address: host, port, exclusive: true }, () => {
  const tcp = net.createServer();
  tcp.once('error', fail);
  tcp.listen({ host, port, exclusive: true, ipv6Only: net.isIPv6(host) }, () => {
    process.send?.({ kind: 'udp' }, udp);
    process.send?.({ kind: 'tcp' }, tcp);
    // The parent says when it holds both, and the copies here can go.
    process.once('message', () => process.exit(0));
  });
});
