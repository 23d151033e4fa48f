// `node dist/bench/cli-startup.js [rounds]`: what the shoal CLI costs to start, beside a bare
// `node -e 0`, alternating the two so both see the same machine. Wall time and peak RSS come from
// /usr/bin/time; the figures are medians, and the ratios are what issue 18 asks about (≤ 2×).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.argv[2] ?? 11);
const shoal = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(args: string[]): { wallS: number; rssMb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const [wall, rssKb] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallS: wall!, rssMb: rssKb! / 1024 };
}

const bare: { wallS: number; rssMb: number }[] = [];
const help: { wallS: number; rssMb: number }[] = [];
for (let i = 0; i < rounds; i++) {
  bare.push(measure(['-e', '0']));
  help.push(measure([shoal, '--help']));
}
const row = (name: string, xs: { wallS: number; rssMb: number }[]): string =>
  `| ${name} | ${median(xs.map((x) => x.wallS)).toFixed(2)} s | ${median(xs.map((x) => x.rssMb)).toFixed(1)} MB |`;
const ratio = (f: (x: { wallS: number; rssMb: number }) => number): string =>
  (median(help.map(f)) / median(bare.map(f))).toFixed(2);
console.log(`| ${rounds} alternating rounds | wall (median) | peak RSS (median) |`);
console.log('|---|---|---|');
console.log(row('`node -e 0`', bare));
console.log(row('`shoal --help`', help));
console.log(`| ratio | ${ratio((x) => x.wallS)}× | ${ratio((x) => x.rssMb)}× |`);
