import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointView, NetworkView, ServiceView } from '../api/index.js';
import { testEndpoint, testNetwork } from './testviews.js';
import { planVips, renderVipScript, renderVipUpdate, vipChains } from './vip.js';

const ep = (id: string, ip: string, serviceId: string | undefined, ready = true): EndpointView =>
  testEndpoint({ id, addresses: [`${ip}/24`], ready, ...(serviceId !== undefined ? { serviceId } : {}) });
const svc = (id: string, vip: string | undefined, mode: ServiceView['mode'] = 'vip'): ServiceView => ({
  id,
  name: id,
  mode,
  aliases: [],
  ...(vip !== undefined ? { vip } : {}),
});
const view = (services: ServiceView[], endpoints: EndpointView[]): NetworkView =>
  testNetwork({ services, endpoints });

const TAIL = `\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip daddr vmap @vips
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tct status dnat ip saddr . ip daddr @hairpin masquerade
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tip daddr @novips meta l4proto tcp reject with tcp reset
\t\tip daddr @novips reject with icmp type port-unreachable
\t}
}
`;

test('three ready backends: the VIP jumps to a round-robin DNAT over them, each hairpin-masqueraded, in one table replacement', () => {
  const script = renderVipScript(
    view(
      [svc('web', '10.0.1.2')],
      [
        ep('c', '10.0.1.31', 'web'),
        ep('a', '10.0.1.11', 'web'),
        ep('b', '10.0.1.21', 'web'),
        ep('x', '10.0.1.99', undefined),
      ],
    ),
  );
  assert.equal(
    script,
    `table ip shoal {}
delete table ip shoal
table ip shoal {
\tmap vips {
\t\ttype ipv4_addr : verdict
\t\telements = { 10.0.1.2 : jump svc_web }
\t}
\tset novips {
\t\ttype ipv4_addr
\t}
\tset hairpin {
\t\ttype ipv4_addr . ipv4_addr
\t\telements = { 10.0.1.11 . 10.0.1.11, 10.0.1.21 . 10.0.1.21, 10.0.1.31 . 10.0.1.31 }
\t}
\tchain svc_web {
\t\tdnat to numgen inc mod 3 map { 0 : 10.0.1.11, 1 : 10.0.1.21, 2 : 10.0.1.31 }
\t}
` + TAIL,
  );
});

test('one ready backend: a plain DNAT; endpoints not ready are left out', () => {
  const script = renderVipScript(
    view([svc('web', '10.0.1.2')], [ep('a', '10.0.1.11', 'web'), ep('b', '10.0.1.21', 'web', false)]),
  );
  assert.match(script, /\tchain svc_web \{\n\t\tdnat to 10\.0\.1\.11\n\t\}\n/);
  assert.doesNotMatch(script, /10\.0\.1\.21/);
  assert.match(script, /elements = \{ 10\.0\.1\.11 \. 10\.0\.1\.11 \}/);
});

test('no ready backend: the VIP is in the reject set, not in the DNAT map', () => {
  const script = renderVipScript(view([svc('web', '10.0.1.2')], [ep('b', '10.0.1.21', 'web', false)]));
  assert.match(script, /set novips \{\n\t\ttype ipv4_addr\n\t\telements = \{ 10\.0\.1\.2 \}\n\t\}/);
  assert.match(script, /map vips \{\n\t\ttype ipv4_addr : verdict\n\t\}/);
  assert.doesNotMatch(script, /chain svc_/);
});

test('no services: an empty table, still replaced whole', () => {
  const script = renderVipScript(view([], []));
  assert.ok(script.startsWith('table ip shoal {}\ndelete table ip shoal\ntable ip shoal {\n'));
  assert.ok(script.endsWith(TAIL));
});

test('dnsrr services, malformed or duplicate VIPs and odd IDs never reach the script as written', () => {
  const plan = planVips(
    view(
      [
        svc('rr', undefined, 'dnsrr'),
        svc('bad', '10.0.1.2; flush ruleset'),
        svc('a', '10.0.1.5'),
        svc('b', '10.0.1.5'),
        svc('we b', '10.0.1.6'),
      ],
      [ep('e1', '10.0.1.11', 'a'), ep('e2', '10.0.1.12', 'we b')],
    ),
  );
  assert.deepEqual(plan.services, [
    { id: 'a', vip: '10.0.1.5', backends: ['10.0.1.11'] },
    { id: 'we b', vip: '10.0.1.6', backends: ['10.0.1.12'] },
  ]);
  const script = renderVipScript(view([svc('we b', '10.0.1.6')], [ep('e2', '10.0.1.12', 'we b')]));
  assert.match(script, /jump svc_we_b/);
});

test('an update in place keeps the table and its hooks, rewrites the rules, and deletes chains of services gone', () => {
  const v = view(
    [svc('web', '10.0.1.2'), svc('db', '10.0.1.3')],
    [ep('a', '10.0.1.11', 'web'), ep('b', '10.0.1.21', 'web', false)],
  );
  assert.deepEqual(vipChains(v), ['svc_web']);
  const script = renderVipUpdate(v, ['svc_web', 'svc_old']);
  assert.doesNotMatch(script, /delete table/);
  assert.match(
    script,
    /^table ip shoal \{\n(.|\n)*\tchain prerouting \{ type nat hook prerouting priority dstnat; policy accept; \}\n/,
  );
  assert.match(script, /\nflush map ip shoal vips\n/);
  assert.match(script, /\nflush chain ip shoal svc_web\n/);
  assert.match(script, /\ndelete chain ip shoal svc_old\n/);
  assert.doesNotMatch(script, /delete chain ip shoal svc_web/);
  assert.match(script, /\nadd element ip shoal vips \{ 10\.0\.1\.2 : jump svc_web \}\n/);
  assert.match(script, /\nadd element ip shoal novips \{ 10\.0\.1\.3 \}\n/);
  assert.match(script, /\nadd rule ip shoal svc_web dnat to 10\.0\.1\.11\n/);
  assert.match(script, /\nadd rule ip shoal prerouting ip daddr vmap @vips\n/);
});
