// Just the HA part of the bench, printed and not written to BENCHMARKS.md:
//   npx tsc -p . && node dist/bench/ha-only.js [--quick] [--no-swarm]
import { haRows } from './ha-rows.js';

const { rows, notes } = await haRows({
  quick: process.argv.includes('--quick'),
  withSwarm: !process.argv.includes('--no-swarm'),
});
console.log(
  ['| measure | shoal | Docker swarm | | shoal / swarm | |', '|---|---|---|---|---|---|', ...rows].join('\n'),
);
for (const n of notes) console.log(`- ${n}`);
