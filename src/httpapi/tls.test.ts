import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSECURE_DELAY_MS, isLoopbackHost, parseTcpHost, tcpListenerNotice } from './tls.js';

const notice = (addr: string, mode: 'off' | 'tls' | 'verify', explicit = false) =>
  tcpListenerNotice(addr, parseTcpHost(addr, mode !== 'off').host, { mode, explicit });

test('plain tcp on an address other machines reach warns loudly and holds startup back 15 s', () => {
  for (const addr of [
    'tcp://0.0.0.0:2375',
    'tcp://10.1.2.3:2375',
    'tcp://[::]:2375',
    'tcp://[fe80::1]:2375',
    'tcp://shoal.example:2375',
    'tcp://128.0.0.1:2375',
  ]) {
    const n = notice(addr, 'off');
    assert.ok(n, addr);
    assert.equal(n.level, 'warn', addr);
    assert.equal(n.delayMs, INSECURE_DELAY_MS, addr);
    assert.equal(INSECURE_DELAY_MS, 15_000);
    assert.match(
      n.lines[0]!,
      /^Binding to IP address without --tlsverify is insecure and gives full control/,
    );
    assert.ok(
      n.lines.every((l) => l.endsWith(`host=${addr}`)),
      'every line names the listener',
    );
    assert.ok(n.lines.some((l) => l.includes("'--tls=false' or '--tlsverify=false'")));
  }
});

test('a stated intent (--tls=false, --tlsverify=false, --tls) keeps the warning and drops the delay', () => {
  for (const [mode, explicit] of [
    ['off', true],
    ['tls', true],
  ] as const) {
    const n = notice('tcp://0.0.0.0:2375', mode, explicit);
    assert.equal(n?.level, 'warn');
    assert.equal(n.delayMs, 0);
    assert.match(n.lines[0]!, /without --tlsverify is insecure/);
  }
});

test('loopback gets one info line and no delay; verified TLS gets nothing', () => {
  for (const addr of [
    'tcp://127.0.3.1:2375',
    'tcp://127.255.0.9:1',
    'tcp://localhost:2375',
    'tcp://[::1]:2375',
    'tcp://:2375',
  ]) {
    const n = notice(addr, 'off');
    assert.equal(n?.level, 'info', addr);
    assert.equal(n.delayMs, 0);
    assert.equal(n.lines.length, 1);
    assert.match(n.lines[0]!, /without TLS: any process on this machine/);
  }
  assert.match(notice('tcp://127.0.0.1:2376', 'tls')!.lines[0]!, /over TLS without client verification/);
  for (const addr of ['tcp://0.0.0.0:2376', 'tcp://127.0.0.1:2376'])
    assert.equal(notice(addr, 'verify'), undefined);
});

test('isLoopbackHost counts only what certainly stays on this machine', () => {
  for (const h of [
    '127.0.0.1',
    '127.0.3.1',
    'localhost',
    'LOCALHOST',
    '::1',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
  ])
    assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.1', '128.0.0.1', 'localhost.example', 'example.com', '::2'])
    assert.equal(isLoopbackHost(h), false, h);
});

test('parseTcpHost reads dockerd forms, with 2376 as the default port under TLS', () => {
  assert.deepEqual(parseTcpHost('tcp://127.0.0.1:2375', false), { host: '127.0.0.1', port: 2375 });
  assert.deepEqual(parseTcpHost('tcp://[::1]:99', true), { host: '::1', port: 99 });
  assert.deepEqual(parseTcpHost('tcp://10.0.0.1', false), { host: '10.0.0.1', port: 2375 });
  assert.deepEqual(parseTcpHost('tcp://10.0.0.1', true), { host: '10.0.0.1', port: 2376 });
  assert.deepEqual(parseTcpHost('tcp://:2375', false), { host: 'localhost', port: 2375 });
  assert.deepEqual(parseTcpHost('127.0.0.1:7', false), { host: '127.0.0.1', port: 7 });
  assert.throws(() => parseTcpHost('tcp://a:b:c', false), /bad tcp address/);
  assert.throws(() => parseTcpHost('tcp://a:99999', false), /bad port/);
});
