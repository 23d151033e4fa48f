// Timestamps along the data path, for finding where time goes between a task's RUNNING commit and
// every node acting on it (bench/overlay.ts reads them from the nodes' stderr). Off unless the
// environment asks (SHOAL_TRACE=datapath): then one short line per event, with the wall-clock time
// in ms to 0.1 ms, so lines of several processes on one machine can be put side by side. Costs one
// boolean test when off; callers build costly details only when `on`.
import { performance } from 'node:perf_hooks';

export interface Trace {
  readonly on: boolean;
  /** Writes `<epoch ms> TRACE <event> <detail>` to stderr when on. */
  (event: string, detail?: string): void;
}

function makeTrace(on: boolean): Trace {
  const t = (event: string, detail = ''): void => {
    if (!on) return;
    const ms = (performance.timeOrigin + performance.now()).toFixed(1);
    process.stderr.write(`${ms} TRACE ${event}${detail ? ` ${detail}` : ''}\n`);
  };
  return Object.assign(t, { on });
}

/** The data path's trace: on with SHOAL_TRACE=datapath. */
export const datapathTrace: Trace = makeTrace(
  (process.env['SHOAL_TRACE'] ?? '').split(',').includes('datapath'),
);

/** Parses one trace line: undefined for other lines. */
export function parseTraceLine(line: string): { ms: number; event: string; detail: string } | undefined {
  const m = /^(\d+\.\d) TRACE (\S+)(?: (.*))?$/.exec(line);
  return m ? { ms: Number(m[1]), event: m[2]!, detail: m[3] ?? '' } : undefined;
}
