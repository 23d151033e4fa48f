// Process and machine CPU from /proc: what a process spent over a window, against the wall time
// and against what the whole machine spent (the machine is shared, so both are reported).
import { readFile, readdir } from 'node:fs/promises';

/** Clock ticks per second of /proc's times (getconf CLK_TCK; 100 on Linux x86_64). */
const TICKS = 100;

/** utime + stime of a process, in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  // The command name may hold spaces and parentheses; the fields start after the last ") ".
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** Resident set size, in MB. */
export async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** Busy and total CPU seconds of the whole machine (all cores). */
export async function machineSeconds(): Promise<{ busy: number; all: number }> {
  const f = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!; // idle + iowait
  return { busy: (all - idle) / TICKS, all: all / TICKS };
}

export interface Window {
  wallS: number;
  /** CPU seconds per wall second of each watched process, in percent of one core. */
  cpuPct: number[];
  /** Share of the whole machine busy over the window, in percent. */
  machinePct: number;
}

/** CPU of `pids` over `ms` of wall time. */
export async function measure(pids: number[], ms: number): Promise<Window> {
  const m0 = await machineSeconds();
  const c0 = await Promise.all(pids.map(cpuSeconds));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = await Promise.all(pids.map(cpuSeconds));
  const wallS = (performance.now() - t0) / 1000;
  const m1 = await machineSeconds();
  return {
    wallS,
    cpuPct: c1.map((c, i) => ((c - c0[i]!) / wallS) * 100),
    machinePct: ((m1.busy - m0.busy) / (m1.all - m0.all)) * 100,
  };
}
