// Just the Raft-vs-etcd part of the bench, printed and not written to BENCHMARKS.md:
//   npx tsc -p . && node dist/bench/raft-only.js [--quick]
import { raftVsEtcd } from './raft.js';

const { rows, notes } = await raftVsEtcd({ quick: process.argv.includes('--quick') });
console.log(
  ['| measure | shoal | etcd 3.4 | | shoal / etcd | |', '|---|---|---|---|---|---|', ...rows].join('\n'),
);
for (const n of notes) console.log(`- ${n}`);
