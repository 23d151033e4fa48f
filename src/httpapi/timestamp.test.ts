import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEventTime, parseGoDuration } from './timestamp.js';

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0); // 2026-12-02T12:00:00Z
const sec = (iso: string): number => Date.parse(iso) * 1e6;

/** Runs fn with the process in time zone tz (Node reads TZ again when it is assigned). */
function inZone(tz: string, fn: () => void): void {
  const was = process.env.TZ;
  process.env.TZ = tz;
  try {
    fn();
  } finally {
    if (was === undefined) delete process.env.TZ;
    else process.env.TZ = was;
  }
}

test('a date or a time without a zone is in the daemon’s local zone, as dockerd reads it', () => {
  inZone('America/New_York', () => {
    // New York is at UTC-5 on 2 December.
    assert.equal(parseEventTime('2026-12-01', NOW), sec('2026-12-01T05:00:00Z'));
    assert.equal(parseEventTime('2026-12-01T10', NOW), sec('2026-12-01T15:00:00Z'));
    assert.equal(parseEventTime('2026-12-01T10:30', NOW), sec('2026-12-01T15:30:00Z'));
    assert.equal(parseEventTime('2026-12-01T10:30:15', NOW), sec('2026-12-01T15:30:15Z'));
    assert.equal(parseEventTime('2026-12-01T10:30:15.5', NOW), sec('2026-12-01T15:30:15.500Z'));
    // Go's FixedZone(reference.Zone()): the offset now (EST), even for a summer date.
    assert.equal(parseEventTime('2026-07-01', NOW), sec('2026-07-01T05:00:00Z'));
  });
  inZone('UTC', () => assert.equal(parseEventTime('2026-12-01', NOW), sec('2026-12-01T00:00:00Z')));
});

test('a time with a zone is read in that zone', () => {
  inZone('Asia/Tokyo', () => {
    assert.equal(parseEventTime('2026-12-01T10:30:15Z', NOW), sec('2026-12-01T10:30:15Z'));
    assert.equal(parseEventTime('2026-12-01T10:30:15-05:00', NOW), sec('2026-12-01T15:30:15Z'));
    assert.equal(parseEventTime('2026-12-01T10:30-05:00', NOW), sec('2026-12-01T15:30:00Z'));
    assert.equal(parseEventTime('2026-12-01T10+01:00', NOW), sec('2026-12-01T09:00:00Z'));
    assert.equal(parseEventTime('2026-12-01Z', NOW), sec('2026-12-01T00:00:00Z'));
    assert.equal(
      parseEventTime('2026-12-01T10:30:15.123456789Z', NOW),
      sec('2026-12-01T10:30:15.123Z') + 456789,
    );
  });
});

test('durations count back from now, Unix seconds are taken as they are, and the rest is refused', () => {
  assert.equal(parseGoDuration('1h30m'), 5400e9);
  assert.equal(parseGoDuration('-1.5s'), -1.5e9);
  assert.equal(parseGoDuration('10'), undefined);
  assert.equal(parseEventTime('10m', NOW), (NOW - 600_000) * 1e6);
  assert.equal(parseEventTime('1h30m', NOW), (NOW - 5_400_000) * 1e6);
  assert.equal(parseEventTime('0', NOW), 0);
  assert.equal(parseEventTime('1700000000', NOW), 1700000000e9);
  assert.equal(parseEventTime('1700000000.5', NOW), 1700000000.5e9);
  assert.equal(parseEventTime(undefined, NOW), undefined);
  assert.throws(
    () => parseEventTime('yesterday', NOW),
    /^ShoalError: failed to parse value as time or duration: "yesterday"$/,
  );
  assert.throws(() => parseEventTime('2026-13-01', NOW), /parsing time "2026-13-01" as "2006-01-02"/);
  assert.throws(() => parseEventTime('2026-02-29', NOW), /parsing time/);
  assert.throws(() => parseEventTime('-5', NOW), /parsing time/);
});
