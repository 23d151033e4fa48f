// A `since`/`until` time as Docker's GetTimestamp reads one (moby api/types/time): a Go duration
// taken back from now, an RFC 3339 time or date, or Unix seconds with a fraction. A time without a
// zone is in the daemon's local zone, at its offset now (Go's FixedZone(reference.Zone())).
import { badParameter } from '../api/index.js';

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const DURATION = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const TERM = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** A Go duration in nanoseconds ("1h30m", "-10m", "1.5s"), or undefined if it is not one. */
export function parseGoDuration(v: string): number | undefined {
  if (!DURATION.test(v)) return undefined;
  let ns = 0;
  for (const [, n, unit] of v.matchAll(TERM)) ns += Number(n) * UNIT_NS[unit!]!;
  return v.startsWith('-') ? -ns : ns;
}

// The layouts GetTimestamp picks from, as patterns: date, hour, minute, second (with an optional
// fraction, which Go accepts after seconds), then the zone where the layout has one.
const DATE = String.raw`(\d{4})-(\d{2})-(\d{2})`;
const ZONE = String.raw`(Z|[+-]\d{2}:\d{2})`;
const LAYOUTS = {
  dateLocal: { go: '2006-01-02', re: new RegExp(`^${DATE}$`) },
  dateWithZone: { go: '2006-01-02Z07:00', re: new RegExp(`^${DATE}${ZONE}$`) },
  hourLocal: { go: '2006-01-02T15', re: new RegExp(String.raw`^${DATE}T(\d{1,2})$`) },
  hourZone: { go: '2006-01-02T15Z07:00', re: new RegExp(String.raw`^${DATE}T(\d{1,2})${ZONE}$`) },
  minuteLocal: { go: '2006-01-02T15:04', re: new RegExp(String.raw`^${DATE}T(\d{1,2}):(\d{2})$`) },
  minuteZone: {
    go: '2006-01-02T15:04Z07:00',
    re: new RegExp(String.raw`^${DATE}T(\d{1,2}):(\d{2})${ZONE}$`),
  },
  secondLocal: {
    go: '2006-01-02T15:04:05.999999999',
    re: new RegExp(String.raw`^${DATE}T(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$`),
  },
  secondZone: {
    go: '2006-01-02T15:04:05Z07:00',
    re: new RegExp(String.raw`^${DATE}T(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?${ZONE}$`),
  },
} as const;
type Layout = (typeof LAYOUTS)[keyof typeof LAYOUTS];

const count = (s: string, c: string): number => s.split(c).length - 1;

/** GetTimestamp's choice of layout for a value. */
function layoutFor(v: string): { layout: Layout; local: boolean } {
  const local = !/[zZ+]/.test(v) && count(v, '-') !== 3;
  if (v.includes('.')) return { layout: local ? LAYOUTS.secondLocal : LAYOUTS.secondZone, local };
  if (v.includes('T')) {
    let colons = count(v, ':');
    // A numeric zone's colon is not part of the time.
    if (!local && !/[zZ]/.test(v) && colons > 0) colons--;
    const [l, z] =
      colons === 0
        ? [LAYOUTS.hourLocal, LAYOUTS.hourZone]
        : colons === 1
          ? [LAYOUTS.minuteLocal, LAYOUTS.minuteZone]
          : [LAYOUTS.secondLocal, LAYOUTS.secondZone];
    return { layout: local ? l : z, local };
  }
  return { layout: local ? LAYOUTS.dateLocal : LAYOUTS.dateWithZone, local };
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Nanoseconds since the epoch of a value in `layout`, or undefined if Go's parser refuses it. */
function parseIn(v: string, { layout, local }: { layout: Layout; local: boolean }, nowMs: number) {
  const m = layout.re.exec(v);
  if (!m) return undefined;
  const hasTime = layout !== LAYOUTS.dateLocal && layout !== LAYOUTS.dateWithZone;
  const zoneAt = local ? -1 : m.length - 1;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const h = hasTime ? Number(m[4]) : 0;
  const mi = hasTime && m[5] !== undefined && zoneAt !== 5 ? Number(m[5]) : 0;
  const s = hasTime && m[6] !== undefined && zoneAt !== 6 ? Number(m[6]) : 0;
  const frac = hasTime && m[7] !== undefined && zoneAt !== 7 ? m[7] : '';
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (mo < 1 || mo > 12 || d < 1 || d > DAYS[mo - 1]! || (mo === 2 && d === 29 && !leap)) return undefined;
  if (h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMin: number;
  if (local) offsetMin = -new Date(nowMs).getTimezoneOffset();
  else {
    const z = m[zoneAt]!;
    offsetMin =
      z === 'Z' ? 0 : (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(4, 6)));
  }
  const utcMs = Date.UTC(y, mo - 1, d, h, mi, s) - offsetMin * 60_000;
  return utcMs * 1e6 + Number(frac.padEnd(9, '0') || '0');
}

/**
 * A `since`/`until` in nanoseconds since the epoch (undefined when absent), read as dockerd's
 * GetTimestamp reads it, refusing what it refuses with its message.
 */
export function parseEventTime(v: string | undefined, nowMs: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const d = v === '0' ? undefined : parseGoDuration(v);
  if (d !== undefined) return nowMs * 1e6 - d;
  const choice = layoutFor(v);
  const t = parseIn(v, choice, nowMs);
  if (t !== undefined) return t;
  // Something with a dash was meant as a time; anything else must be Unix seconds.
  if (v.includes('-'))
    throw badParameter(
      `parsing time ${JSON.stringify(v)} as ${JSON.stringify(choice.layout.go)}: cannot parse`,
    );
  const secs = /^(\d+)(?:\.(\d+))?$/.exec(v);
  if (!secs) throw badParameter(`failed to parse value as time or duration: ${JSON.stringify(v)}`);
  return Number(secs[1]) * 1e9 + Number((secs[2] ?? '').slice(0, 9).padEnd(9, '0'));
}
