// Security negatives on the cluster port: each test fails if the check it names were removed.
// A manager and workers run in-process (simulated executor) and talk real mutual-TLS gRPC.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Daemon } from '../src/daemon/index.js';
import { SimExecutor } from '../src/agent/index.js';
import {
  createKeyAndCsr,
  createRootCA,
  generateJoinToken,
  identityOf,
  signNodeCertificate,
} from '../src/ca/index.js';
import { ManualClock } from '../src/platform/index.js';
import { encodeMessage, message } from '../src/raft/index.js';
import {
  CAServiceClient,
  CAServiceService,
  CLUSTER_CHANNEL_OPTIONS,
  ClusterServer,
  DispatcherServiceClient,
  ManagerServiceClient,
  RaftServiceClient,
  managerChannelCredentials,
  type TlsMaterial,
} from '../src/transport/index.js';
import { apiHarness, type ApiHarness } from './support/daemon.js';
import { DESCRIPTION } from './support/cluster.js';

let h: ApiHarness;
let managerAddr = '';
let workerToken = '';
let managerToken = '';
const workers: Daemon[] = [];

async function tlsOf(dataRoot: string): Promise<TlsMaterial> {
  const read = (f: string): Promise<string> => readFile(join(dataRoot, 'certificates', f), 'utf8');
  return {
    rootsPem: await read('swarm-root-ca.crt'),
    certPem: await read('swarm-node.crt'),
    keyPem: await read('swarm-node.key'),
  };
}

/** The manager's key is sealed on disk; the running daemon holds it in the clear. */
function managerTls(): Promise<TlsMaterial> {
  return Promise.resolve(h.daemon.tls!);
}

async function newWorker(name: string): Promise<Daemon> {
  const d = new Daemon({
    dataRoot: await mkdtemp(join(tmpdir(), `shoal-sec-${name}-`)),
    engineHost: 'unix:///nonexistent.sock',
    hostname: name,
    executorFactory: () => new SimExecutor({ ...DESCRIPTION, Hostname: name }),
  });
  await d.start();
  workers.push(d);
  return d;
}

/** Calls Dispatcher.Heartbeat with the given credentials; resolves with the gRPC status code. */
function heartbeatCode(tls: Partial<TlsMaterial> & { rootsPem: string }): Promise<status> {
  const client = new DispatcherServiceClient(
    managerAddr,
    managerChannelCredentials(tls),
    CLUSTER_CHANNEL_OPTIONS,
  );
  return new Promise((resolve) => {
    client.heartbeat({ sessionId: 'none' }, new Metadata(), { deadline: Date.now() + 5000 }, (err) => {
      client.close();
      resolve(err ? (err as ServiceError).code : status.OK);
    });
  });
}

function unlockKeyCode(tls: TlsMaterial): Promise<status> {
  const client = new CAServiceClient(managerAddr, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS);
  return new Promise((resolve) => {
    client.getUnlockKey({}, new Metadata(), { deadline: Date.now() + 5000 }, (err) => {
      client.close();
      resolve(err ? (err as ServiceError).code : status.OK);
    });
  });
}

/** A certificate for the given identity signed by the cluster's real root (what only a thief of the CA key could do). */
async function forged(
  subject: { nodeId: string; clusterId: string },
  o: { now: number; validityMs: number },
) {
  const root = h.daemon.manager.store.view((tx) => tx.cluster()!.RootCA!);
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = await signNodeCertificate(
    { certPem: root.CACert, keyPem: root.CAKey },
    csrPem,
    { ...subject, role: 'worker' },
    o,
  );
  return { rootsPem: root.CACert, certPem, keyPem };
}

before(async () => {
  h = await apiHarness();
  assert.equal((await h.call('POST', '/v1.41/swarm/init', { AdvertiseAddr: '127.0.0.1' })).status, 200);
  managerAddr = h.daemon.listenAddr;
  const sw = (await h.call('GET', '/v1.41/swarm')).body as {
    JoinTokens: { Worker: string; Manager: string };
  };
  workerToken = sw.JoinTokens.Worker;
  managerToken = sw.JoinTokens.Manager;
});

after(async () => {
  for (const w of workers) await w.shutdown();
  await h.close();
});

test('a worker joins with the worker token and its certificate opens a session', async () => {
  const w = await newWorker('w1');
  await w.join({ remoteAddrs: [managerAddr], joinToken: workerToken });
  assert.equal(w.state, 'active');
  assert.equal(w.isManager, false);
  // A valid certificate gets past authentication: the bogus session ID is what is refused.
  assert.equal(await heartbeatCode(await tlsOf(w.dataRoot)), status.NOT_FOUND);
  const nodes = (await h.call('GET', '/v1.41/nodes')).body as { ID: string; Spec: { Role: string } }[];
  assert.equal(nodes.find((n) => n.ID === w.nodeId)?.Spec.Role, 'worker');
});

test('no client certificate: refused', async () => {
  const { rootsPem } = await managerTls();
  assert.equal(await heartbeatCode({ rootsPem }), status.UNAUTHENTICATED);
});

test('a certificate from another CA: refused', async () => {
  const w = workers[0]!;
  const other = await createRootCA({ now: Date.now() });
  const { keyPem, csrPem } = await createKeyAndCsr();
  const clusterId = h.daemon.cluster()!.ID;
  const certPem = await signNodeCertificate(
    other,
    csrPem,
    { nodeId: w.nodeId!, role: 'worker', clusterId },
    {
      now: Date.now(),
      validityMs: 3600_000,
    },
  );
  const { rootsPem } = await managerTls();
  assert.equal(await heartbeatCode({ rootsPem, certPem, keyPem }), status.UNAUTHENTICATED);
});

test('a certificate of another cluster (O) signed by this CA: refused', async () => {
  const tls = await forged(
    { nodeId: workers[0]!.nodeId!, clusterId: 'othercluster' },
    { now: Date.now(), validityMs: 3600_000 },
  );
  assert.equal(await heartbeatCode(tls), status.PERMISSION_DENIED);
});

test('a worker certificate calling a manager-only RPC: refused; a manager certificate: allowed', async () => {
  assert.equal(await unlockKeyCode(await tlsOf(workers[0]!.dataRoot)), status.PERMISSION_DENIED);
  assert.equal(await unlockKeyCode(await managerTls()), status.OK);
});

test('an expired certificate: refused', async () => {
  const day = 24 * 3600_000;
  const tls = await forged(
    { nodeId: workers[0]!.nodeId!, clusterId: h.daemon.cluster()!.ID },
    { now: Date.now() - 10 * day, validityMs: day },
  );
  assert.equal(await heartbeatCode(tls), status.UNAUTHENTICATED);
});

test('a removed node reconnecting: refused', async () => {
  const w = await newWorker('w2');
  await w.join({ remoteAddrs: [managerAddr], joinToken: workerToken });
  const tls = await tlsOf(w.dataRoot);
  assert.equal(await heartbeatCode(tls), status.NOT_FOUND, 'admitted before removal');
  await w.shutdown();
  assert.equal((await h.call('DELETE', `/v1.41/nodes/${w.nodeId!}?force=true`)).status, 200);
  assert.equal(await heartbeatCode(tls), status.PERMISSION_DENIED);
});

test('a wrong token: refused, and no node is created', async () => {
  const before = ((await h.call('GET', '/v1.41/nodes')).body as unknown[]).length;
  const w = await newWorker('w3');
  // Right CA digest, wrong secret.
  const wrong = workerToken.slice(0, -25) + '0'.repeat(24) + '1';
  await assert.rejects(w.join({ remoteAddrs: [managerAddr], joinToken: wrong }), (e: Error) => {
    assert.match(e.message, /A valid join token is necessary to join this cluster/);
    return true;
  });
  assert.equal(w.state, 'inactive');
  assert.equal(((await h.call('GET', '/v1.41/nodes')).body as unknown[]).length, before);
});

test('joining the Raft group and forwarding API writes are manager-only: a worker certificate is refused', async () => {
  const call = (tls: TlsMaterial, which: 'joinRaft' | 'forwardApi'): Promise<status> => {
    const c = new ManagerServiceClient(managerAddr, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS);
    return new Promise((resolve) => {
      const done = (err: ServiceError | null): void => {
        c.close();
        resolve(err ? err.code : status.OK);
      };
      const opts = { deadline: Date.now() + 5000 };
      if (which === 'joinRaft') c.joinRaft({ addr: '127.0.0.1:1' }, new Metadata(), opts, done);
      else
        c.forwardApi(
          { method: 'DELETE', url: '/services/x', headers: {}, body: Buffer.alloc(0) },
          new Metadata(),
          opts,
          done,
        );
    });
  };
  const worker = await tlsOf(workers[0]!.dataRoot);
  assert.equal(await call(worker, 'joinRaft'), status.PERMISSION_DENIED);
  assert.equal(await call(worker, 'forwardApi'), status.PERMISSION_DENIED);
  // The manager itself passes the check (and then finds it is not a manager node's new member).
  assert.notEqual(await call(await managerTls(), 'forwardApi'), status.PERMISSION_DENIED);
  // The manager token now makes a manager (issue 4); it still needs the right token.
  assert.ok(managerToken.startsWith('SWMTKN-1-'));
});

test("a Raft message whose sender is not the member its certificate's node holds is dropped", async () => {
  const self = h.daemon.raftLeader!.self;
  assert.equal(h.daemon.raftLeader!.leader, self);
  // Signed by this manager's own certificate, but claiming another member: a heartbeat of a
  // far later term would make the manager a follower of that member, were it delivered.
  const forged = message({ type: 'MsgHeartbeat', from: self + 1000, to: self, term: 1_000_000 });
  const c = new RaftServiceClient(
    managerAddr,
    managerChannelCredentials(await managerTls()),
    CLUSTER_CHANNEL_OPTIONS,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = c.streamRaftMessage(new Metadata(), (err) => (err ? reject(err) : resolve()));
      stream.write({ message: Buffer.from(encodeMessage(forged)) });
      stream.end();
    });
  } finally {
    c.close();
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(h.daemon.raftLeader, { self, leader: self }, 'the manager still leads');
  assert.equal(
    (await h.call('POST', '/v1.41/configs/create', { Name: 'after-forgery', Data: 'aGk=' })).status,
    201,
  );
});

test('a token whose CA digest does not match the manager: the node never sends its request', async () => {
  // A rogue "manager" with its own CA, which would happily sign anything.
  const rogue = await createRootCA({ now: Date.now() });
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = await signNodeCertificate(
    rogue,
    csrPem,
    { nodeId: 'rogue', role: 'manager', clusterId: 'x' },
    {
      now: Date.now(),
      validityMs: 3600_000,
    },
  );
  let issued = 0;
  const server = new ClusterServer({ rootsPem: rogue.certPem, certPem, keyPem });
  server.addService(CAServiceService, {
    getRootCa: (_c: unknown, cb: (e: null, r: { rootsPem: string }) => void) =>
      cb(null, { rootsPem: rogue.certPem }),
    issueNodeCertificate: (_c: unknown, cb: (e: { code: status; details: string }) => void) => {
      issued++;
      cb({ code: status.INTERNAL, details: 'rogue' });
    },
    getUnlockKey: (_c: unknown, cb: (e: null, r: { unlockKey: string }) => void) =>
      cb(null, { unlockKey: '' }),
  });
  const port = await server.listen('127.0.0.1:0');
  try {
    const w = await newWorker('w5');
    // The real cluster's token: its digest names the real root, not the rogue one.
    await assert.rejects(
      w.join({ remoteAddrs: [`127.0.0.1:${port}`], joinToken: workerToken }),
      /fingerprint/,
    );
    assert.equal(issued, 0, 'no certificate request reached the rogue CA');
    // And a token made for the rogue root is accepted up to the point the rogue answers.
    await assert.rejects(
      w.join({ remoteAddrs: [`127.0.0.1:${port}`], joinToken: generateJoinToken(rogue.certPem) }),
      /rogue/,
    );
    assert.equal(issued, 1);
  } finally {
    await server.stop();
  }
});

test('a node renews its certificate by itself between 50% and 80% of its life, with the current expiry', async () => {
  // Node certificates issued from now on are valid 2 hours (docker swarm update --cert-expiry 2h).
  const sw = (await h.call('GET', '/v1.41/swarm')).body as {
    Version: { Index: number };
    Spec: Record<string, unknown>;
  };
  const spec = { ...sw.Spec, CAConfig: { ...(sw.Spec.CAConfig as object), NodeCertExpiry: 2 * 3600e9 } };
  assert.equal((await h.call('POST', `/v1.41/swarm/update?version=${sw.Version.Index}`, spec)).status, 200);
  // The worker lives on a manual clock; the manager on the real one.
  const clock = new ManualClock(Date.now());
  const d = new Daemon({
    dataRoot: await mkdtemp(join(tmpdir(), 'shoal-sec-renew-')),
    engineHost: 'unix:///nonexistent.sock',
    hostname: 'w7',
    clock,
    executorFactory: () => new SimExecutor({ ...DESCRIPTION, Hostname: 'w7' }),
  });
  await d.start();
  workers.push(d);
  await d.join({ remoteAddrs: [managerAddr], joinToken: workerToken });
  const first = identityOf((await tlsOf(d.dataRoot)).certPem);
  const life = first.notAfter - first.notBefore;
  assert.ok(Math.abs(life - (2 * 3600_000 + 60_000)) < 5_000, `issued for ${life} ms`);
  // Just before half its life nothing happens; by 80% it has renewed.
  clock.advance(life * 0.49);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(identityOf((await tlsOf(d.dataRoot)).certPem).serial, first.serial);
  clock.advance(life * 0.32);
  await waitUntil(async () => identityOf((await tlsOf(d.dataRoot)).certPem).serial !== first.serial);
  const second = identityOf((await tlsOf(d.dataRoot)).certPem);
  assert.equal(second.nodeId, first.nodeId);
  assert.equal(second.role, 'worker');
  // The renewed certificate opens sessions like the first.
  assert.equal(await heartbeatCode(await tlsOf(d.dataRoot)), status.NOT_FOUND);
});

async function waitUntil(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('joins are rate-limited per address', async () => {
  const { rootsPem } = await managerTls();
  const { csrPem } = await createKeyAndCsr();
  const wrong = workerToken.slice(0, -25) + '0'.repeat(24) + '2';
  const client = new CAServiceClient(
    managerAddr,
    managerChannelCredentials({ rootsPem }),
    CLUSTER_CHANNEL_OPTIONS,
  );
  const codes = await Promise.all(
    Array.from(
      { length: 40 },
      () =>
        new Promise<status>((resolve) =>
          client.issueNodeCertificate(
            { csrPem, token: wrong, availability: '', hostname: 'x', addr: '127.0.0.1' },
            new Metadata(),
            { deadline: Date.now() + 5000 },
            (err) => resolve(err ? (err as ServiceError).code : status.OK),
          ),
        ),
    ),
  );
  client.close();
  assert.ok(codes.includes(status.INVALID_ARGUMENT), 'the first attempts are judged on their token');
  assert.ok(codes.includes(status.RESOURCE_EXHAUSTED), 'a burst of attempts from one address is cut off');
  assert.ok(!codes.includes(status.OK));
});
