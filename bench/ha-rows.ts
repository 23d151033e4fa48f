// The HA part of the bench: manager failover on real shoald processes (bench/ha.ts) beside the
// real Docker swarm's (3 dockerd managers in network namespaces, bench/swarm-ha.ts), and manager
// state at 100,000 tasks (bench/snapshot.ts). Rows fit bench/run.ts's table.
import { managerFailover } from './ha.js';
import { snapshotAtScale } from './snapshot.js';

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};
const f = (x: number, d = 2): string => (Number.isNaN(x) ? '' : x.toFixed(d));

export async function haRows(o: {
  quick: boolean;
  withSwarm: boolean;
}): Promise<{ rows: string[]; notes: string[] }> {
  const log = (m: string): void => console.log(`  ha: ${m}`);
  const rows: string[] = [];
  const notes: string[] = [];
  const rounds = o.quick ? 10 : 100;
  const fo = await managerFailover(rounds, log);
  const secs = fo.ms.map((x) => x / 1000);
  let swarm: number[] = [];
  if (o.withSwarm) {
    try {
      const { realSwarmFailover } = await import('./swarm-ha.js');
      const r = await realSwarmFailover({ rounds: o.quick ? 2 : 5, log });
      swarm = r.rounds;
      notes.push(...r.notes);
    } catch (e) {
      notes.push(`real swarm manager failover not measured: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const swarmCell =
    swarm.length > 0
      ? `${f(pct(swarm, 0.5))} / ${f(Math.max(...swarm))} (${swarm.length} rounds)`
      : '12.6 (anchors.md median)';
  const swarmMedian = swarm.length > 0 ? pct(swarm, 0.5) : 12.6;
  rows.push(
    `| 3 managers: kill -9 of the leader until a write succeeds, p50 / p99 / max of ${secs.length} (s) | ${f(pct(secs, 0.5))} / ${f(pct(secs, 0.99))} / ${f(Math.max(...secs))} | ${swarmCell} | | ${f(pct(secs, 0.5) / swarmMedian)} (p50) | |`,
  );
  notes.push(
    `manager failover: 3 shoald managers on 127.0.2.1-3 with default Raft timing (heartbeat 100 ms, election timeout drawn from [1, 1.5) s in 10 ms ticks), a config create fired at each survivor every 20 ms after kill -9 of the leader; the victim restarts and rejoins between rounds. Per-round ms: ${fo.ms.join(', ')}.`,
  );
  const tasks = o.quick ? 20_000 : 100_000;
  const snap = await snapshotAtScale(tasks);
  log(JSON.stringify(snap));
  rows.push(
    `| ${tasks.toLocaleString('en')} tasks: one snapshot of the store in one piece, event loop blocked (s) | ${f(snap.serializeSecs)} | | | | |`,
    `| ${tasks.toLocaleString('en')} tasks: the same in slices, as managers take it: total (s) / longest event-loop stall (ms) | ${f(snap.asyncSecs)} / ${f(snap.asyncMaxStallMs, 0)} | | | | |`,
    `| ${tasks.toLocaleString('en')} tasks: a manager's whole background snapshot cycle (slices, sealed file, log rewrite), longest event-loop stall (ms) | ${f(snap.cycleMaxStallMs, 0)} | | | | |`,
    `| ${tasks.toLocaleString('en')} tasks: a new manager caught up by snapshot install (s) | ${f(snap.installSecs)} | | | | |`,
    `| ${tasks.toLocaleString('en')} tasks: manager restart, disk open + replay until applied (s) | ${f(snap.restartSecs)} | | | | |`,
  );
  notes.push(
    `state at scale: ${tasks} tasks of about ${Math.round(snap.snapshotBytes / tasks)} bytes (snapshot ${(snap.snapshotBytes / 1e6).toFixed(1)} MB), written in entries of 500 in ${f(snap.writeSecs)} s through one RaftNode with its encrypted disk; the new member joins over the in-process network (wire codec, chunked snapshot messages), not gRPC.`,
  );
  return { rows, notes };
}
