// End to end: the Engine API on tcp with TLS, as dockerd's --tlsverify. The stock docker CLI and
// our shoal CLI with a client certificate from our CA get in; no certificate, a certificate from
// another CA and plain HTTP do not. Also: bad certificate files stop shoald at startup naming the
// file, and plain or unverified TCP on loopback starts at once with a notice, not the network
// warning. Addresses 127.0.3.x only; certificates are made here, in a temp dir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shoald, type CliResult } from '../support/shoald.js';
import { issue, makeCA } from '../support/tlscerts.js';

const IP = '127.0.3.1';
const TCP = `tcp://${IP}:23760`;

let dir = '';
let node: Shoald | undefined;
/** Certificate directories in the docker CLI's layout (ca.pem, cert.pem, key.pem). */
const certs = (name: string): string => join(dir, name);

/** The environment without the caller's docker or shoal settings, plus `extra`. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of [
    'DOCKER_HOST',
    'DOCKER_TLS_VERIFY',
    'DOCKER_TLS',
    'DOCKER_CERT_PATH',
    'DOCKER_CONTEXT',
    'SHOAL_HOST',
  ])
    delete e[k];
  // An empty client config: nothing from this machine's ~/.docker (contexts, certificates).
  return { ...e, DOCKER_CONFIG: join(dir, 'docker-config'), ...extra };
}

function run(cmd: string, args: string[], e: NodeJS.ProcessEnv, timeout = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: e, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const c = (err as { code?: unknown } | null)?.code;
      // -1: killed (by the timeout), which no assertion on an exit code should take for a failure.
      resolve({ stdout, stderr, code: err ? (typeof c === 'number' ? c : -1) : 0 });
    }).stdin!.end();
  });
}

const docker = (args: string[], e: Record<string, string>): Promise<CliResult> => run('docker', args, env(e));
const shoal = (args: string[], e: Record<string, string>): Promise<CliResult> =>
  run(process.execPath, ['bin/shoal.js', ...args], env(e));
/** The docker CLI's way: DOCKER_TLS_VERIFY and the certificates in DOCKER_CERT_PATH. */
const verified = (certDir: string): Record<string, string> => ({
  DOCKER_HOST: TCP,
  DOCKER_TLS_VERIFY: '1',
  DOCKER_CERT_PATH: certs(certDir),
});

function okOr(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}\n--- shoald log ---\n${node?.log.slice(-3000) ?? ''}`);
  return r.stdout;
}

async function writeCerts(name: string, files: { ca: string; cert?: string; key?: string }): Promise<void> {
  await mkdir(certs(name), { recursive: true });
  await writeFile(join(certs(name), 'ca.pem'), files.ca);
  if (files.cert) await writeFile(join(certs(name), 'cert.pem'), files.cert);
  if (files.key) await writeFile(join(certs(name), 'key.pem'), files.key, { mode: 0o600 });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-tls-'));
  await mkdir(join(dir, 'docker-config'));
  const ca = await makeCA('shoal test CA');
  const other = await makeCA('another CA');
  const server = await issue(ca, 'shoald', IP);
  const client = await issue(ca, 'client');
  const stranger = await issue(other, 'stranger');
  await writeCerts('server', { ca: ca.certPem, cert: server.certPem, key: server.keyPem });
  await writeCerts('client', { ca: ca.certPem, cert: client.certPem, key: client.keyPem });
  // Trusts the server, has no client certificate.
  await writeCerts('nocert', { ca: ca.certPem });
  // Trusts the server; its client certificate comes from another CA.
  await writeCerts('stranger', { ca: ca.certPem, cert: stranger.certPem, key: stranger.keyPem });
  // A good client certificate, but a CA that did not sign the server's.
  await writeCerts('wrongca', { ca: other.certPem, cert: client.certPem, key: client.keyPem });
  const s = certs('server');
  node = new Shoald('tls', dir, [
    '-H',
    TCP,
    '--tlsverify',
    '--tlscacert',
    join(s, 'ca.pem'),
    '--tlscert',
    join(s, 'cert.pem'),
    '--tlskey',
    join(s, 'key.pem'),
  ]);
  // The harness waits on the node's unix socket, which stays plain.
  await node.start();
});

after(async () => {
  if (node) {
    await node.docker(['swarm', 'leave', '--force']);
    await node.stop();
  }
  await rm(dir, { recursive: true, force: true });
});

test('the docker CLI with DOCKER_TLS_VERIFY and a client certificate drives shoald over TLS', async () => {
  const e = verified('client');
  assert.equal(
    okOr(await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'], e), 'info').trim(),
    'inactive',
  );
  assert.match(
    okOr(await docker(['swarm', 'init', '--advertise-addr', IP], e), 'swarm init'),
    /Swarm initialized: current node \(\w{25}\) is now a manager/,
  );
  assert.match(okOr(await docker(['service', 'ls'], e), 'service ls'), /^ID\s+NAME\s+MODE\s+REPLICAS/);
  assert.equal(
    okOr(await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'], e), 'info').trim(),
    'active',
  );
  assert.match(
    node!.log,
    /listening on .*tcp:\/\/127\.0\.3\.1:23760 \(tcp: TLS, client certificates verified\)/,
  );
  assert.doesNotMatch(node!.log, /WARN .*without --tlsverify/);
});

test('without a client certificate the TLS port refuses the docker CLI', async () => {
  const r = await docker(['info'], verified('nocert'));
  assert.notEqual(r.code, 0, 'shoald answered a client without a certificate');
  assert.match(r.stderr, /certificate required/);
});

test('a client certificate from another CA is refused', async () => {
  const r = await docker(['info'], verified('stranger'));
  assert.notEqual(r.code, 0, 'shoald answered the docker CLI with a foreign certificate');
  // The docker CLI does not even offer a certificate the server's CA list does not name; our CLI
  // does, so the server itself turns down the foreign certificate.
  const s = await shoal(['info'], verified('stranger'));
  assert.notEqual(s.code, 0, 'shoald answered the shoal CLI with a foreign certificate');
  assert.match(s.stderr, /cannot reach shoald over TLS/);
  assert.equal(s.stdout, '');
});

test('plain HTTP to the TLS port gets no API', async () => {
  const answer = await new Promise<string>((resolve) => {
    const req = request({ host: IP, port: 23760, path: '/version' }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(`HTTP ${res.statusCode}: ${body}`));
    });
    req.on('error', (err) => resolve(`error: ${err.message}`));
    req.end();
  });
  assert.match(answer, /^error: /, `plain HTTP got an answer: ${answer}`);
  const r = await docker(['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: TCP });
  assert.notEqual(r.code, 0, 'the docker CLI without TLS got an answer');
  assert.equal(r.stdout.trim(), '');
});

test('our shoal CLI over TLS: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, and the flags', async () => {
  const info = JSON.parse(okOr(await shoal(['info'], verified('client')), 'shoal info')) as {
    Swarm: { LocalNodeState: string };
  };
  assert.equal(info.Swarm.LocalNodeState, 'active');
  assert.match(okOr(await shoal(['service', 'ls'], verified('client')), 'shoal service ls'), /^ID\s+NAME/);
  const c = certs('client');
  const flags = ['-H', TCP, '--tlsverify', '--tlscacert', join(c, 'ca.pem')];
  const keyPair = ['--tlscert', join(c, 'cert.pem'), '--tlskey', join(c, 'key.pem')];
  assert.match(
    okOr(await shoal([...flags, ...keyPair, 'node', 'ls'], {}), 'shoal node ls'),
    /Ready\s+Active\s+Leader/,
  );
  // The same without the key pair: the server wants a certificate.
  const bare = await shoal([...flags, 'node', 'ls'], {});
  assert.notEqual(bare.code, 0);
  assert.match(bare.stderr, /cannot reach shoald over TLS: .*certificate required/);
  // Our client checks the server against the CA it was given...
  const wrong = await shoal(['info'], verified('wrongca'));
  assert.notEqual(wrong.code, 0, 'the shoal CLI trusted a server its CA did not sign');
  assert.match(
    wrong.stderr,
    /cannot reach shoald over TLS: (self-signed certificate in certificate chain|unable to verify)/,
  );
  // ...and --tlsverify=false (dockerd's spelling) keeps TLS and the client certificate, unchecked.
  const unchecked = await shoal(['--tlsverify=false', 'info'], verified('wrongca'));
  assert.equal(unchecked.code, 0, unchecked.stderr);
  assert.match(unchecked.stdout, /"LocalNodeState": "active"/);
  // A missing file is named.
  const missing = await shoal(['info'], verified('nosuchdir'));
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--tlscacert .*nosuchdir\/ca\.pem: cannot read it: no such file/);
});

test('bad or missing certificate files stop shoald at startup, naming the file', async () => {
  const s = certs('server');
  await writeFile(join(dir, 'garbage.pem'), 'not a certificate\n');
  const start = (ca: string, cert: string, key: string): Promise<CliResult> =>
    run(
      process.execPath,
      [
        'bin/shoald.js',
        '--data-plane',
        'off',
        '--data-root',
        join(dir, 'bad-data'),
        '--exec-root',
        join(dir, 'bad-run'),
        '-H',
        `tcp://${IP}:23763`,
        '--tlsverify',
        '--tlscacert',
        ca,
        '--tlscert',
        cert,
        '--tlskey',
        key,
      ],
      env({}),
      20_000,
    );
  const cases: Array<[string, string, string, RegExp]> = [
    [
      join(dir, 'nope', 'ca.pem'),
      join(s, 'cert.pem'),
      join(s, 'key.pem'),
      /--tlscacert \S+\/nope\/ca\.pem: cannot read it: no such file/,
    ],
    [
      join(s, 'ca.pem'),
      join(dir, 'garbage.pem'),
      join(s, 'key.pem'),
      /--tlscert \S+\/garbage\.pem: no PEM certificate in it/,
    ],
    [
      join(s, 'ca.pem'),
      join(s, 'cert.pem'),
      join(dir, 'garbage.pem'),
      /--tlskey \S+\/garbage\.pem: not a valid PEM private key/,
    ],
    [
      join(s, 'ca.pem'),
      join(s, 'cert.pem'),
      join(certs('client'), 'key.pem'),
      /--tlskey \S+\/client\/key\.pem does not match the certificate in --tlscert \S+\/server\/cert\.pem/,
    ],
    [
      join(dir, 'garbage.pem'),
      join(s, 'cert.pem'),
      join(s, 'key.pem'),
      /--tlscacert \S+\/garbage\.pem: no PEM certificate in it/,
    ],
  ];
  for (const [ca, cert, key, message] of cases) {
    const r = await start(ca, cert, key);
    assert.equal(r.code, 1, `shoald started with ${ca} ${cert} ${key}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('plain and unverified TCP on loopback start at once with one notice, not the network warning', async () => {
  const plain = new Shoald('plain', dir, ['-H', 'tcp://127.0.3.2:23761']);
  const tlsOnly = new Shoald('tlsonly', dir, [
    '-H',
    'tcp://127.0.3.3:23762',
    '--tls',
    '--tlscert',
    join(certs('server'), 'cert.pem'),
    '--tlskey',
    join(certs('server'), 'key.pem'),
  ]);
  try {
    await plain.start();
    await tlsOnly.start();
    // Right after the unix socket answers, tcp does too: no startup delay on loopback.
    okOr(await docker(['version'], { DOCKER_HOST: 'tcp://127.0.3.2:23761' }), 'docker over plain tcp');
    // --tls alone encrypts but asks for no client certificate; the docker CLI's --tls checks
    // nothing either (it reads ca.pem all the same, hence a DOCKER_CERT_PATH).
    okOr(
      await docker(['--tls', 'version'], {
        DOCKER_HOST: 'tcp://127.0.3.3:23762',
        DOCKER_CERT_PATH: certs('nocert'),
      }),
      'docker --tls',
    );
    assert.match(
      plain.log,
      /INFO API on tcp:\/\/127\.0\.3\.2:23761 without TLS: any process on this machine/,
    );
    assert.match(
      tlsOnly.log,
      /INFO API on tcp:\/\/127\.0\.3\.3:23762 over TLS without client verification: any process on this machine/,
    );
    for (const log of [plain.log, tlsOnly.log]) {
      assert.doesNotMatch(log, /WARN/);
      assert.doesNotMatch(log, /Binding to IP address/);
    }
  } finally {
    await plain.stop();
    await tlsOnly.stop();
  }
});
