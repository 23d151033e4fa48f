// The seed runner. `--seed S` replays one run (printing its trace if it fails, or with --verbose);
// `--seeds N [--from B]` runs N seeds from B; `--handoff` forces the leader-handoff workload and
// `--agents N` the number of worker nodes (0: Raft and store only), `--timing coarse|production`
// the Raft ticks. Exits non-zero naming the first failing seed.
import { runSim } from './cluster.js';
import type { SimResult } from './cluster.js';

interface Args {
  seed?: number;
  seeds?: number;
  from: number;
  verbose: boolean;
  faultMs?: number;
  clients?: number;
  handoff: boolean;
  agents?: number;
  timing?: 'coarse' | 'production';
}

function parse(argv: string[]): Args {
  const a: Args = { from: 1, verbose: false, handoff: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer`);
      return v;
    };
    if (flag === '--seed') a.seed = num();
    else if (flag === '--seeds') a.seeds = num();
    else if (flag === '--from') a.from = num();
    else if (flag === '--fault-ms') a.faultMs = num();
    else if (flag === '--clients') a.clients = num();
    else if (flag === '--verbose' || flag === '-v') a.verbose = true;
    else if (flag === '--handoff') a.handoff = true;
    else if (flag === '--agents') a.agents = num();
    else if (flag === '--timing') {
      const t = argv[++i];
      if (t !== 'coarse' && t !== 'production') throw new Error('--timing is coarse or production');
      a.timing = t;
    } else
      throw new Error(
        `unknown argument ${flag}; usage: sim --seed S [--verbose] | --seeds N [--from B] [--fault-ms MS] [--clients C] [--handoff] [--agents N] [--timing coarse|production]`,
      );
  }
  return a;
}

function summary(r: SimResult): string {
  const s = r.stats;
  return `seed ${r.seed} ${r.ok ? 'ok' : 'FAILED'} managers=${r.regime.managers} net=${r.regime.network} partitions=${r.regime.partitions} handoff=${r.regime.handoff} agents=${r.regime.agents} timing=${r.regime.timing} crashes=${s.crashes} ops=${s.ops} (ok ${s.okOps}, unknown ${s.unknownOps}) terms=${s.leaders}${s.fleet ? ` fleet(ops ${s.fleet.opsOk}/${s.fleet.ops}, agent crashes ${s.fleet.agentCrashes}, kills ${s.fleet.containerKills})` : ''} events=${s.events} sim=${s.simMs}ms digest=${r.digest.slice(0, 16)}`;
}

async function main(): Promise<number> {
  const a = parse(process.argv.slice(2));
  const opts = {
    ...(a.faultMs === undefined ? {} : { faultMs: a.faultMs }),
    ...(a.clients === undefined ? {} : { clients: a.clients }),
    ...(a.handoff ? { handoff: true } : {}),
    ...(a.agents === undefined ? {} : { agents: a.agents }),
    ...(a.timing === undefined ? {} : { timing: a.timing }),
  };
  if (a.seed !== undefined) {
    const r = await runSim({ seed: a.seed, verbose: a.verbose, ...opts });
    if (!r.ok || a.verbose) for (const l of r.trace) console.log(l);
    console.log(summary(r));
    for (const f of r.failures) console.log(`  ${f}`);
    return r.ok ? 0 : 1;
  }
  const n = a.seeds ?? 20;
  const failed: number[] = [];
  const started = Date.now();
  for (let seed = a.from; seed < a.from + n; seed++) {
    const r = await runSim({ seed, ...opts });
    console.log(summary(r));
    if (!r.ok) {
      for (const f of r.failures) console.log(`  ${f}`);
      failed.push(seed);
    }
  }
  console.log(`${n - failed.length}/${n} seeds passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failed.length > 0) {
    console.log(
      `FAILING SEEDS: ${failed.join(' ')} (replay: npm run sim -- --seed ${failed[0]}${a.handoff ? ' --handoff' : ''}${a.agents === undefined ? '' : ` --agents ${a.agents}`}${a.timing === undefined ? '' : ` --timing ${a.timing}`})`,
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
