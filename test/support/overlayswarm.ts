// A swarm of shoalds on namespace hosts (nshosts.ts) with one overlay network: what the overlay
// end-to-end test and bench/overlay.ts both start from. Host i runs shoald i; host 0 is the
// manager, the others join as workers, and each node carries the label host=<i> so tasks can be
// placed by host. Hosts past `nodes` are left to the caller (the bench's plain dockerd).
import type { NsHosts } from './nshosts.js';
import { waitFor, type Shoald } from './shoald.js';

export interface OverlaySwarm {
  nodes: Shoald[];
  /** The manager, on host 0. */
  m: Shoald;
  /** Node ID → host index. */
  hostOfNode: Map<string, number>;
}

/**
 * A backend whose answer names its task (the container's hostname) and the client address it saw:
 * busybox httpd with a CGI, on port 80; `extra` runs before httpd starts.
 */
export function whoServer(extra = ''): string[] {
  return [
    'sh',
    '-c',
    [
      'mkdir -p /w/cgi-bin',
      `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "$(hostname) $REMOTE_ADDR"\\n' > /w/cgi-bin/who`,
      'chmod +x /w/cgi-bin/who',
      ...(extra ? [extra] : []),
      'exec httpd -f -p 80 -h /w',
    ].join(' && '),
  ];
}
export const WHO_SERVER = whoServer();

export async function startOverlaySwarm(
  h: NsHosts,
  o: { nodes: number; network: string; subnet: string },
): Promise<OverlaySwarm> {
  const nodes: Shoald[] = [];
  for (let i = 0; i < o.nodes; i++) nodes.push(await h.startShoald(i));
  const m = nodes[0]!;
  await m.ok(['swarm', 'init', '--advertise-addr', h.addr(0)]);
  const token = (await m.ok(['swarm', 'join-token', '-q', 'worker'])).trim();
  for (let i = 1; i < o.nodes; i++)
    await nodes[i]!.ok([
      'swarm',
      'join',
      '--token',
      token,
      '--advertise-addr',
      h.addr(i),
      `${h.addr(0)}:2377`,
    ]);
  await waitFor(
    `${o.nodes} nodes ready`,
    async () =>
      (await m.ok(['node', 'ls', '--format', '{{.Status}}'])).split('\n').filter((l) => l === 'Ready')
        .length === o.nodes,
    30_000,
    250,
  );
  const hostOfNode = new Map<string, number>();
  for (const l of (await m.ok(['node', 'ls', '--format', '{{.ID}} {{.Hostname}}'])).trim().split('\n')) {
    const [id, name] = l.split(' ');
    // Namespace hosts are named <prefix>-h<i>, and shoald takes that as its hostname.
    const i = Number(/-h(\d+)$/.exec(name ?? '')?.[1]);
    hostOfNode.set(id!, i);
    await m.ok(['node', 'update', '--label-add', `host=${i}`, id!]);
  }
  await m.ok(['network', 'create', '-d', 'overlay', '--subnet', o.subnet, o.network]);
  return { nodes, m, hostOfNode };
}

/** The service's VIP on the network, without its prefix length. */
export async function serviceVip(m: Shoald, service: string, network: string): Promise<string> {
  const netId = (await m.ok(['network', 'inspect', '--format', '{{.Id}}', network])).trim();
  const vips = JSON.parse(
    await m.ok(['service', 'inspect', '--format', '{{json .Endpoint.VirtualIPs}}', service]),
  ) as { NetworkID: string; Addr: string }[];
  return vips.find((v) => v.NetworkID === netId)!.Addr.split('/')[0]!;
}
