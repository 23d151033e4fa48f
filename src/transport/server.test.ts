import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { invalidArgument, ShoalError, unavailable } from '../api/index.js';
import { leaderHint, notLeaderError } from './leader.js';
import { fromServiceError, toServiceError } from './server.js';

const silent = (): void => undefined;

test('a handler error is sent as the gRPC status of its code; a not-leader answer names the leader', () => {
  const notLeader = toServiceError(notLeaderError('10.0.0.7:2377'), silent);
  assert.equal(notLeader.code, status.UNAVAILABLE);
  assert.equal(notLeader.details, 'this manager is not the leader; the leader is at 10.0.0.7:2377');
  assert.equal(leaderHint(notLeader), '10.0.0.7:2377');
  assert.equal(leaderHint(toServiceError(notLeaderError(undefined), silent)), undefined);
  assert.equal(
    toServiceError(new ShoalError('PermissionDenied', 'no'), silent).code,
    status.PERMISSION_DENIED,
  );
  assert.equal(toServiceError(invalidArgument('bad'), silent).code, status.INVALID_ARGUMENT);
  assert.equal(toServiceError(new ShoalError('Conflict', 'stale'), silent).code, status.ABORTED);
});

test('an unexpected handler error is INTERNAL and logged', () => {
  const logged: string[] = [];
  const err = toServiceError(new Error('boom'), (m) => logged.push(m));
  assert.equal(err.code, status.INTERNAL);
  assert.equal(err.details, 'boom');
  assert.equal(logged.length, 1);
  assert.equal(
    toServiceError(new ShoalError('Internal', 'disk'), (m) => logged.push(m)).code,
    status.INTERNAL,
  );
  assert.equal(logged.length, 1, 'a ShoalError is expected, not logged');
});

test("a peer's status is the caller's to fix only for InvalidArgument and FailedPrecondition", () => {
  const fallback = (msg: string): ShoalError => unavailable(`via manager: ${msg}`);
  const bad = fromServiceError({ code: status.INVALID_ARGUMENT, details: 'invalid join token' }, fallback);
  assert.equal(bad.code, 'InvalidArgument');
  assert.equal(bad.message, 'invalid join token');
  assert.equal(
    fromServiceError({ code: status.FAILED_PRECONDITION, details: 'x' }, fallback).code,
    'FailedPrecondition',
  );
  const down = fromServiceError({ code: status.UNAVAILABLE, details: 'no leader' }, fallback);
  assert.equal(down.code, 'Unavailable');
  assert.equal(down.message, 'via manager: no leader');
  const mine = new ShoalError('NotFound', 'x');
  assert.equal(fromServiceError(mine, fallback), mine);
});
