// shoal Raft variants (raftd flags) and etcd side by side, loaded in turn, no failover: for
// trying a change to the Raft path before it lands.
//   npx tsc -p . && node dist/bench/raft-ab.js [--rounds N] [--no-etcd] [--keep] \
//     --variant 'name:--raftd-flag=x --other' [--variant ...]
// With no --variant, the one default build. RAFTD_NODE_FLAGS passes flags to node itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EtcdCluster } from './etcd.js';
import { measureBoth, ShoalRaftCluster } from './raft.js';
import type { KvCluster } from './kv.js';

const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    'no-etcd': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'only-sequential': { type: 'boolean', default: false },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const dir = await mkdtemp(join(tmpdir(), 'shoal-raft-ab-'));
try {
  const variants = o.variant.length > 0 ? o.variant : ['shoal:'];
  const systems: KvCluster[] = variants.map((v, i) => {
    const [name = `v${i}`, flags = ''] = v.split(/:(.*)/s);
    return new ShoalRaftCluster(join(dir, name), {
      name,
      portOffset: 50 * i,
      args: flags.split(' ').filter(Boolean),
    });
  });
  if (!o['no-etcd']) systems.push(new EtcdCluster(join(dir, 'etcd')));
  const r = await measureBoth(systems, false, (m) => console.log(m), {
    failover: false,
    rounds: Number(o.rounds),
    concurrent: !o['only-sequential'],
  });
  const f = (x: number | undefined): string => (x ?? NaN).toFixed(2);
  for (const [name, s] of r)
    console.log(
      `${name.padEnd(10)} 1 writer ${f(s.seq.perSec)}/s p50 ${f(s.seq.p50)} p99 ${f(s.seq.p99)} | 64 writers ${f(s.conc?.perSec)}/s p50 ${f(s.conc?.p50)} p99 ${f(s.conc?.p99)}`,
    );
} finally {
  if (o.keep) console.log(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
