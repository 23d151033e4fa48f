// The pull policy as a table, then ImagePuller against the host's dockerd and the two loopback
// registries of scripts/setup-host.sh. Each test pushes a tag of its own (busybox:local's layers
// under a fresh name), so it neither depends on nor disturbs other tests' images; nothing here
// names an image without a loopback registry host, so dockerd never contacts docker.io.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HttpStatusError } from '../../../api/index.js';
import { EngineApiClient } from '../../../engineclient/index.js';
import { DockerEngine } from './engine.js';
import { ImagePuller, parseImageRef, pullPolicy } from './pull.js';

test('image references split as the engine pulls them, with the policy for each', () => {
  const id = `sha256:${'a'.repeat(64)}`;
  const digest = `sha256:${'b'.repeat(64)}`;
  const cases: [string, ReturnType<typeof parseImageRef>, string][] = [
    ['busybox', { name: 'busybox', id: false }, 'always'],
    ['busybox:latest', { name: 'busybox', tag: 'latest', id: false }, 'always'],
    ['busybox:local', { name: 'busybox', tag: 'local', id: false }, 'missing'],
    ['127.0.0.1:5000/shoal/busybox', { name: '127.0.0.1:5000/shoal/busybox', id: false }, 'always'],
    [
      '127.0.0.1:5000/shoal/busybox:1',
      { name: '127.0.0.1:5000/shoal/busybox', tag: '1', id: false },
      'missing',
    ],
    [
      `127.0.0.1:5000/shoal/busybox:latest@${digest}`,
      { name: '127.0.0.1:5000/shoal/busybox', tag: 'latest', digest, id: false },
      'missing',
    ],
    [`registry:5000/a/b@${digest}`, { name: 'registry:5000/a/b', digest, id: false }, 'missing'],
    [id, { name: id, id: true }, 'never'],
  ];
  for (const [image, ref, policy] of cases) {
    assert.deepEqual(parseImageRef(image), ref, image);
    assert.equal(pullPolicy(ref), policy, image);
  }
});

const engine = new DockerEngine('unix:///var/run/docker.sock');
/** Go's base64.URLEncoding, padded, as the docker CLI encodes X-Registry-Auth (dockerd wants the padding). */
const b64url = (o: object): string =>
  Buffer.from(JSON.stringify(o)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
const AUTH_OK = b64url({
  username: 'shoal',
  password: 'shoal-registry-pass',
  serveraddress: '127.0.0.1:5001',
});
const AUTH_BAD = b64url({ username: 'shoal', password: 'wrong', serveraddress: '127.0.0.1:5001' });

async function present(image: string): Promise<boolean> {
  try {
    await engine.inspectImage(image);
    return true;
  } catch (e) {
    if (e instanceof HttpStatusError && e.status === 404) return false;
    throw e;
  }
}

async function untag(image: string): Promise<void> {
  await engine.call('DELETE', `/images/${image}?noprune=1`).catch((e: unknown) => {
    if (!(e instanceof HttpStatusError && e.status === 404)) throw e;
  });
}

const client = new EngineApiClient({ host: 'unix:///var/run/docker.sock' });

/** Pushes busybox:local to `repo:tag` on a loopback registry, then removes the tag from the engine. */
async function pushOnly(repo: string, tag: string, auth?: string): Promise<string> {
  await engine.call('POST', `/images/busybox:local/tag?repo=${encodeURIComponent(repo)}&tag=${tag}`);
  const res = await client.stream('POST', `/images/${repo}/push?tag=${tag}`, undefined, {
    'X-Registry-Auth': auth ?? 'e30=',
  });
  let out = '';
  for await (const c of res) out += (c as Buffer).toString();
  await untag(`${repo}:${tag}`);
  assert.doesNotMatch(out, /"error"/, out);
  return `${repo}:${tag}`;
}

/** Tags busybox:local as `image` (a registry that is not there: any pull of it would fail). */
async function tagLocal(image: string): Promise<void> {
  const colon = image.lastIndexOf(':');
  const q = `repo=${encodeURIComponent(image.slice(0, colon))}&tag=${image.slice(colon + 1)}`;
  await engine.call('POST', `/images/busybox:local/tag?${q}`);
}

/** The engine, counting the pulls asked of it. */
function counting(): { engine: Pick<DockerEngine, 'inspectImage' | 'pullImage'>; pulls: () => number } {
  let n = 0;
  const e = {
    inspectImage: (image: string) => engine.inspectImage(image),
    pullImage: (...a: Parameters<DockerEngine['pullImage']>) => {
      n++;
      return engine.pullImage(...a);
    },
  };
  return { engine: e, pulls: () => n };
}

test('an image only the registry has is pulled; a tag the engine has is not pulled again', async () => {
  const image = await pushOnly('127.0.0.1:5000/shoal/pulltest', `t${randomBytes(4).toString('hex')}`);
  const c = counting();
  try {
    assert.equal(await present(image), false);
    const puller = new ImagePuller(c.engine);
    await puller.ensure(image);
    assert.equal(await present(image), true);
    await puller.ensure(image);
    assert.equal(c.pulls(), 1);
  } finally {
    await untag(image);
  }
  // Pinned to a tag that is not latest and present: no pull (an unreachable registry is no matter).
  const pinned = `127.0.0.1:5999/shoal/pinned${randomBytes(4).toString('hex')}:1`;
  await tagLocal(pinned);
  const logs: string[] = [];
  try {
    await new ImagePuller(c.engine).ensure(pinned, { log: (m) => logs.push(m) });
    assert.deepEqual(logs, []);
    assert.equal(c.pulls(), 1);
  } finally {
    await untag(pinned);
  }
});

test('a missing image fails with the registry answer; a failed pull of a present latest uses the local copy', async () => {
  const puller = new ImagePuller(engine);
  await assert.rejects(
    puller.ensure('127.0.0.1:5000/shoal/nosuchimage:1'),
    /^Error: pulling 127\.0\.0\.1:5000\/shoal\/nosuchimage:1: .*manifest unknown/,
  );
  // `latest` is always pulled; with the registry unreachable the engine's copy is used.
  const local = `127.0.0.1:5999/shoal/offline${randomBytes(4).toString('hex')}:latest`;
  await tagLocal(local);
  const logs: string[] = [];
  try {
    await puller.ensure(local, { log: (m) => logs.push(m) });
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /pulling image .* failed, using the local copy: .*connection refused/);
  } finally {
    await untag(local);
  }
});

test('credentials go to the registry that needs them; wrong ones fail clearly and are never in the error', async () => {
  const image = await pushOnly(
    '127.0.0.1:5001/shoal/pulltest',
    `t${randomBytes(4).toString('hex')}`,
    AUTH_OK,
  );
  try {
    const puller = new ImagePuller(engine);
    await assert.rejects(puller.ensure(image), /no basic auth credentials/);
    await assert.rejects(puller.ensure(image, { auth: AUTH_BAD }), (e: Error) => {
      assert.match(e.message, /^pulling 127\.0\.0\.1:5001\/shoal\/pulltest:t[0-9a-f]+: unauthorized/);
      assert.doesNotMatch(e.message, /wrong|shoal-registry-pass/);
      return true;
    });
    assert.equal(await present(image), false);
    await puller.ensure(image, { auth: AUTH_OK });
    assert.equal(await present(image), true);
  } finally {
    await untag(image);
  }
});

test('tasks waiting for one image share one pull', async () => {
  const image = await pushOnly('127.0.0.1:5000/shoal/pulltest', `t${randomBytes(4).toString('hex')}`);
  const c = counting();
  try {
    const puller = new ImagePuller(c.engine);
    await Promise.all([puller.ensure(image), puller.ensure(image), puller.ensure(image)]);
    assert.equal(c.pulls(), 1);
    assert.equal(await present(image), true);
  } finally {
    await untag(image);
  }
});
