// The API over a stand-in backend: the version range and headers a client negotiates with, and
// which writes a follower hands to the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unavailable } from '../api/index.js';
import { EventLog } from '../manager/index.js';
import { systemClock } from '../platform/index.js';
import type { ApiBackend, ForwardedRequest, ForwardedResponse, LeaderLink } from './backend.js';
import { runForwarded } from './forwarding.js';
import { buildApp, MAX_API_VERSION, MIN_API_VERSION } from './server.js';

const NO_LEADER = 'The swarm does not have a leader.';

/** A node outside any swarm whose LeaderLink records what it is asked to forward. */
function standIn(o: { follower: boolean }): { backend: ApiBackend; forwarded: ForwardedRequest[] } {
  const forwarded: ForwardedRequest[] = [];
  const leader: LeaderLink = {
    forwardsWrites: o.follower,
    forwardToLeader: (req): Promise<ForwardedResponse> => {
      forwarded.push(req);
      return Promise.resolve({
        status: 201,
        contentType: 'application/json',
        body: Buffer.from('{"ID":"from-the-leader"}\n'),
      });
    },
    noLeader: () => unavailable(NO_LEADER),
  };
  const backend: ApiBackend = {
    state: 'inactive',
    isManager: false,
    nodeId: undefined,
    nodeAddr: '',
    managers: [],
    hostname: 'stand-in',
    dataRoot: '/nonexistent',
    startedAt: 0,
    raftLeader: undefined,
    manager: () => {
      throw unavailable('This node is not a swarm manager.');
    },
    cluster: () => undefined,
    leader,
    events: new EventLog(systemClock),
    init: () => Promise.reject(new Error('not in this test')),
    join: () => Promise.reject(new Error('not in this test')),
    leave: () => Promise.resolve(),
    unlock: () => Promise.resolve(),
    unlockKey: () => '',
    syncKeys: () => Promise.resolve(),
    localLogs: () => undefined,
    remoteLogs: (_req, sink) => {
      sink.end();
      return () => undefined;
    },
  };
  return { backend, forwarded };
}

test('GET and HEAD /_ping carry Api-Version, unprefixed and under every version served', async () => {
  const app = buildApp(standIn({ follower: false }).backend);
  for (const prefix of ['', `/v${MIN_API_VERSION}`, '/v1.24', '/v1.41', `/v${MAX_API_VERSION}`]) {
    for (const method of ['GET', 'HEAD'] as const) {
      const r = await app.inject({ method, url: `${prefix}/_ping` });
      assert.equal(r.statusCode, 200, `${method} ${prefix}/_ping`);
      assert.equal(r.headers['api-version'], '1.41', `${method} ${prefix}/_ping`);
      assert.equal(r.headers['swarm'], 'inactive');
      assert.equal(r.body, method === 'GET' ? 'OK' : '');
    }
  }
  await app.close();
});

test('a version outside 1.12-1.50 is a 400 that still carries Api-Version', async () => {
  assert.deepEqual([MIN_API_VERSION, MAX_API_VERSION], ['1.12', '1.50']);
  const app = buildApp(standIn({ follower: false }).backend);
  const tooNew = await app.inject({ method: 'GET', url: '/v1.51/_ping' });
  assert.equal(tooNew.statusCode, 400);
  assert.equal(tooNew.headers['api-version'], '1.41');
  assert.match(tooNew.json<{ message: string }>().message, /client version 1.51 is too new/);
  const tooOld = await app.inject({ method: 'GET', url: '/v1.11/_ping' });
  assert.equal(tooOld.statusCode, 400);
  assert.match(tooOld.json<{ message: string }>().message, /client version 1.11 is too old/);
  await app.close();
});

test("a follower hands cluster writes to the leader whole and answers with the leader's answer", async () => {
  const { backend, forwarded } = standIn({ follower: true });
  const app = buildApp(backend);
  const body = '{"Name":"web"}';
  const r = await app.inject({
    method: 'POST',
    url: '/v1.41/services/create?x=1',
    headers: { 'content-type': 'application/json', 'x-registry-auth': 'abc', 'x-other': 'dropped' },
    payload: body,
  });
  assert.deepEqual([r.statusCode, r.json()], [201, { ID: 'from-the-leader' }]);
  assert.equal(forwarded.length, 1);
  const sent = forwarded[0]!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.url, '/v1.41/services/create?x=1');
  assert.deepEqual(sent.headers, { 'content-type': 'application/json', 'x-registry-auth': 'abc' });
  assert.equal(sent.body.toString(), body);
  await app.close();
});

test('reads and writes that change this node alone are not forwarded', async () => {
  const { backend, forwarded } = standIn({ follower: true });
  const app = buildApp(backend);
  assert.equal((await app.inject({ method: 'GET', url: '/v1.41/services' })).statusCode, 503);
  assert.equal((await app.inject({ method: 'POST', url: '/v1.41/swarm/leave' })).statusCode, 200);
  assert.equal(forwarded.length, 0);
  await app.close();
});

test('a forwarded write that reaches a manager no longer leading is a 503 "no leader", never forwarded again', async () => {
  const { backend: follower, forwarded } = standIn({ follower: true });
  const app = buildApp(follower);
  const res = await runForwarded(app, {
    method: 'DELETE',
    url: '/v1.41/services/web',
    headers: {},
    body: Buffer.alloc(0),
  });
  assert.equal(res.status, 503);
  assert.equal(res.contentType, 'application/json');
  assert.deepEqual(JSON.parse(res.body.toString()), { message: NO_LEADER });
  assert.equal(forwarded.length, 0);
  await app.close();
});

test("the leader runs a forwarded write through the same routes and returns Docker's error shape", async () => {
  const app = buildApp(standIn({ follower: false }).backend);
  const res = await runForwarded(app, {
    method: 'POST',
    url: '/v1.41/services/create',
    headers: { 'content-type': 'text/plain' },
    body: Buffer.from('{}'),
  });
  assert.equal(res.status, 400);
  assert.match(JSON.parse(res.body.toString()).message as string, /must be 'application\/json'/);
  await app.close();
});
