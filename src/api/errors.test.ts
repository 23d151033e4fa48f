import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  codeForGrpcStatus,
  dockerMessageFor,
  grpcStatusFor,
  httpStatusFor,
  isShoalError,
  ShoalError,
  type ErrorCode,
} from './errors.js';

test('each code answers with the HTTP status Docker uses and its gRPC status', () => {
  const cases: [ErrorCode, number, number][] = [
    ['InvalidArgument', 400, 3],
    ['BadParameter', 400, 3],
    ['FailedPrecondition', 400, 9],
    ['NotFound', 404, 5],
    ['AlreadyExists', 409, 6],
    ['Conflict', 409, 10],
    ['Unavailable', 503, 14],
    ['NotImplemented', 501, 12],
    ['Internal', 500, 13],
    ['Unauthenticated', 401, 16],
    ['PermissionDenied', 403, 7],
    ['ResourceExhausted', 429, 8],
    // A write the cluster could not take is a 503; one this manager's disk refused is its own fault.
    ['NotLeader', 503, 14],
    ['QuorumLost', 503, 14],
    ['DiskFault', 500, 13],
  ];
  for (const [code, http, grpc] of cases) {
    assert.equal(httpStatusFor(code), http, code);
    assert.equal(grpcStatusFor(code), grpc, code);
  }
});

test('a gRPC status reads back as the general code, whichever code sent it', () => {
  assert.equal(codeForGrpcStatus(grpcStatusFor('NotLeader')), 'Unavailable');
  assert.equal(codeForGrpcStatus(grpcStatusFor('BadParameter')), 'InvalidArgument');
  assert.equal(codeForGrpcStatus(grpcStatusFor('DiskFault')), 'Internal');
  assert.equal(codeForGrpcStatus(grpcStatusFor('UntrustedCertificate')), 'Unauthenticated');
  for (const code of ['InvalidArgument', 'NotFound', 'FailedPrecondition', 'PermissionDenied'] as const)
    assert.equal(codeForGrpcStatus(grpcStatusFor(code)), code);
  assert.equal(codeForGrpcStatus(2), undefined, 'UNKNOWN has no code');
  for (let s = 0; s <= 16; s++) {
    const code = codeForGrpcStatus(s);
    if (code !== undefined)
      assert.ok(
        isShoalError(new ShoalError(code, ''), 'api') || isShoalError(new ShoalError(code, ''), 'cluster'),
        code,
      );
  }
});

test('isShoalError tells a family of codes apart', () => {
  const ca = new ShoalError('RootDigestMismatch', 'remote CA does not match');
  assert.ok(isShoalError(ca));
  assert.ok(isShoalError(ca, 'ca'));
  assert.ok(!isShoalError(ca, 'keys'));
  assert.ok(isShoalError(new ShoalError('WrongUnlockKey', 'x'), 'keys'));
  assert.ok(isShoalError(new ShoalError('Dropped', 'x'), 'raft'));
  assert.ok(!isShoalError(new Error('x')));
});

test('details ride on the error only when given', () => {
  const e = new ShoalError('NotLeader', 'not the leader', { leader: 3, maybeCommitted: false, cause: 'why' });
  assert.equal(e.leader, 3);
  assert.equal(e.maybeCommitted, false);
  assert.equal(e.cause, 'why');
  const plain = new ShoalError('NotFound', 'no such service');
  assert.ok(
    !('leader' in plain) && !('maybeCommitted' in plain) && !('leaderAddr' in plain) && !('cause' in plain),
  );
  assert.equal(
    dockerMessageFor(new ShoalError('InvalidArgument', 'bad')),
    'rpc error: code = InvalidArgument desc = bad',
  );
  assert.equal(dockerMessageFor(new ShoalError('NotLeader', 'cannot write')), 'cannot write');
});
