import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Budget,
  compile,
  expandContainerSpec,
  expandString,
  TemplateError,
  type SwarmContext,
} from './index.js';
import { httpStatusFor, isShoalError } from '../errors.js';
import { normalizeServiceSpec } from '../validate/index.js';

const ctx: SwarmContext = {
  service: { id: 'svc1', name: 'web', labels: { tier: 'front', app: 'shop' } },
  node: { ID: 'node1', Hostname: 'host-a', Platform: { Architecture: 'x86_64', OS: 'linux' } },
  task: { id: 'task1', name: 'web.2.task1', slot: '2' },
};

const expand = (s: string): string => expandString(s, ctx);
const fails = (s: string, message: string): void =>
  assert.throws(
    () => expand(s),
    (e: unknown) => e instanceof TemplateError && e.message === message,
    s,
  );

test('text and actions print the context fields, maps and structs as Go prints them', () => {
  const cases: [string, string][] = [
    ['plain text', 'plain text'],
    ['{{.Service.Name}}-{{.Task.Slot}}', 'web-2'],
    ['{{.Service.ID}} {{.Node.ID}} {{.Task.ID}} {{.Task.Name}}', 'svc1 node1 task1 web.2.task1'],
    ['{{.Node.Hostname}}/{{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}', 'host-a/linux/x86_64'],
    ['{{.Service.Labels}}', 'map[app:shop tier:front]'],
    ['{{.Service.Labels.tier}}', 'front'],
    ['{{.Node.Platform}}', '{x86_64 linux}'],
    ['{{.}}', '{{svc1 web map[app:shop tier:front]} {node1 host-a {x86_64 linux}} {task1 web.2.task1 2}}'],
    ['{{$}}', '{{svc1 web map[app:shop tier:front]} {node1 host-a {x86_64 linux}} {task1 web.2.task1 2}}'],
  ];
  for (const [src, want] of cases) assert.equal(expand(src), want, src);
});

test('trim markers, comments and literals behave as in Go', () => {
  const cases: [string, string][] = [
    ['a  {{- .Task.Slot -}}  \n b', 'a2b'],
    ['x{{/* a comment */}}y', 'xy'],
    ['x  {{- /* trimmed */ -}}  y', 'xy'],
    ['{{"q\\tuote"}}|{{`raw\\n`}}', 'q\tuote|raw\\n'],
    [
      "{{1}} {{-2}} {{0x1F}} {{0o17}} {{1_000}} {{'a'}} {{1.5}} {{1e6}} {{true}}",
      '1 -2 31 15 1000 97 1.5 1e+06 true',
    ],
  ];
  // `{{-.X}}` has no space after the dash: Go reads it as a bad number, not a trim marker.
  for (const [src, want] of cases) assert.equal(expand(src), want, src);
  assert.throws(() => expand('{{-.Task.Slot}}'), /bad number syntax/);
});

test('functions: comparisons, logic, index, len, printf, print, join and the escapers', () => {
  const cases: [string, string][] = [
    ['{{if eq .Task.Slot "2"}}two{{else}}other{{end}}', 'two'],
    ['{{if eq .Task.Slot "1" "2"}}one of{{end}}', 'one of'],
    [
      '{{ne .Service.Name "web"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}',
      'false true true true false',
    ],
    ['{{and 1 0 .Missing}}|{{or 0 "" "x"}}|{{not ""}}', '0|x|true'],
    ['{{and 0 .Nope}}|{{or 1 .Nope}}', '0|1'],
    ['{{index .Service.Labels "app"}}|{{index .Service.Labels "none"}}|{{index "abc" 1}}', 'shop||98'],
    ['{{len .Service.Labels}} {{len .Service.Name}}', '2 3'],
    [
      '{{printf "%s-%d-%v-%q-%5s|%-4d|%03d" .Service.Name 7 .Service.Labels "x" "ab" 1 5}}',
      'web-7-map[app:shop tier:front]-"x"-   ab|1   |005',
    ],
    ['{{printf "%d %s" "x"}}', '%!d(string=x) %!s(MISSING)'],
    ['{{printf "%s" "a" 1}}', 'a%!(EXTRA int=1)'],
    ['{{print 1 2 "a" 3 "b"}}', '1 2a3b'],
    ['{{println "a" 1}}', 'a 1\n'],
    ['{{join "-" .Service.Name .Task.Slot}}', 'web-2'],
    ['{{html "<a href=\'x\'>&"}}', '&lt;a href=&#39;x&#39;&gt;&amp;'],
    ['{{urlquery "a b&c"}} {{js "it\'s <b>"}}', "a+b%26c it\\'s \\u003Cb\\u003E"],
    ['{{slice .Service.Name 1 3}}', 'eb'],
  ];
  for (const [src, want] of cases) assert.equal(expand(src.replace('.Missing', '1')), want, src);
});

test('pipelines, variables, if/else if, with and range over maps (sorted), ints and else', () => {
  const cases: [string, string][] = [
    ['{{.Service.Name | printf "%s!"}}', 'web!'],
    ['{{"a" | printf "%s%s" "b"}}', 'ba'],
    ['{{$n := .Service.Name}}{{$n}}{{$n = "x"}}{{$n}}', 'webx'],
    ['{{if eq .Task.Slot "1"}}a{{else if eq .Task.Slot "2"}}b{{else}}c{{end}}', 'b'],
    ['{{with .Node.Platform}}{{.OS}}{{end}}{{with ""}}no{{else}}empty{{end}}', 'linuxempty'],
    ['{{range $k, $v := .Service.Labels}}{{$k}}={{$v}};{{end}}', 'app=shop;tier=front;'],
    ['{{range .Service.Labels}}[{{.}}]{{end}}', '[shop][front]'],
    ['{{range $v := .Service.Labels}}{{$v}}{{end}}', 'shopfront'],
    ['{{range 3}}{{.}}{{end}}', '012'],
    ['{{range $i := 4}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$i}}{{end}}', '02'],
    ['{{range 0}}x{{else}}none{{end}}', 'none'],
    ['{{(.Node.Platform).OS}} {{(printf "%s" "p")}}', 'linux p'],
  ];
  for (const [src, want] of cases) assert.equal(expand(src), want, src);
});

test('parse errors read as Go text/template reports them', () => {
  fails('{{.Service.Name', 'template: expansion:1: unclosed action');
  fails('{{upper .Service.Name}}', 'template: expansion:1: function "upper" not defined');
  fails('{{end}}', 'template: expansion:1: unexpected {{end}}');
  fails('{{if .Task.Slot}}x', 'template: expansion:1: unexpected EOF');
  fails('{{}}', 'template: expansion:1: missing value for command');
  fails('{{$x}}', 'template: expansion:1: undefined variable "$x"');
  fails('a\n{{.A "b}}', 'template: expansion:2: unterminated quoted string');
  fails('{{.A | "x"}}', 'template: expansion:1: non executable command in pipeline stage 2');
  fails('{{/* open', 'template: expansion:1: unclosed comment');
  fails('{{3x}}', 'template: expansion:1: bad number syntax: "3x"');
  fails('{{break}}', 'template: expansion:1: {{break}} outside {{range}}');
});

test('execution errors name the place and the node, as Go does (missingkey=error)', () => {
  fails(
    '{{.Foo}}',
    'template: expansion:1:2: executing "expansion" at <.Foo>: can\'t evaluate field Foo in type *template.Context',
  );
  fails(
    'x{{.Service.Foo}}',
    'template: expansion:1:11: executing "expansion" at <.Service.Foo>: can\'t evaluate field Foo in type struct { ID string; Name string; Labels map[string]string }',
  );
  fails(
    'a\nb {{.Service.Labels.nope}}',
    'template: expansion:2:12: executing "expansion" at <.Service.Labels.nope>: map has no entry for key "nope"',
  );
  fails(
    '{{.Task.Slot.X}}',
    'template: expansion:1:7: executing "expansion" at <.Task.Slot.X>: can\'t evaluate field X in type string',
  );
  fails(
    '{{index "ab" 5}}',
    'template: expansion:1:2: executing "expansion" at <index "ab" 5>: error calling index: index out of range: 5',
  );
  fails(
    '{{eq 1 "a"}}',
    'template: expansion:1:2: executing "expansion" at <eq 1 "a">: error calling eq: incompatible types for comparison',
  );
  fails(
    '{{len 3}}',
    'template: expansion:1:2: executing "expansion" at <len 3>: error calling len: len of type int',
  );
  fails('{{nil}}', 'template: expansion:1:2: executing "expansion" at <nil>: nil is not a command');
  fails(
    '{{call .Service.Name}}',
    'template: expansion:1:2: executing "expansion" at <call .Service.Name>: error calling call: non-function .Service.Name of type string',
  );
  fails(
    '{{not}}',
    'template: expansion:1:2: executing "expansion" at <not>: wrong number of args for not: want 1 got 0',
  );
  fails(
    '{{"a" 1}}',
    'template: expansion:1:2: executing "expansion" at <"a">: can\'t give argument to non-function "a"',
  );
  fails(
    '{{printf "%s" .Service.Labels.aaaaaaaaaaaaaaaa}}',
    'template: expansion:1:22: executing "expansion" at <.Service.Labels.aaaa...>: map has no entry for key "aaaaaaaaaaaaaaaa"',
  );
});

test('runaway templates stop: output size, work and nesting are bounded', () => {
  const t = compile('{{range 1000}}xxxxxxxxxx{{end}}');
  assert.throws(
    () => t.execute({ t: { k: 'int' }, v: 0 }, new Budget(1e6, 5000)),
    /output is larger than 5000 bytes/,
  );
  assert.throws(() => expand('{{range 100000000}}{{end}}'), /more than 1000000 steps/);
  assert.equal(expand('{{printf "%20000000d|%s" 1 "ab"}}'), '%!(NOVERB)%!(EXTRA int=1, string=ab)');
  // The budget is the spec's, not each field's: many small loops add up.
  const env = Array.from({ length: 50 }, (_, i) => `E${i}={{range 30000}}{{end}}`);
  assert.throws(() => expandContainerSpec({ Image: 'x', Env: env }, ctx), /more than 1000000 steps/);
  assert.throws(
    () => expandContainerSpec({ Image: 'x', Env: Array(8).fill('A={{printf "%1000000s" "x"}}') }, ctx),
    /output is larger than 4194304 bytes/,
  );
  assert.throws(() => expand('{{range 500000}}{{range 500000}}{{end}}{{end}}'), /more than 1000000 steps/);
  assert.throws(
    () => expand('{{' + '('.repeat(500) + '1' + ')'.repeat(500) + '}}'),
    /max expression depth exceeded/,
  );
  assert.throws(() => expand('{{if 1}}'.repeat(500)), /max expression depth exceeded/);
  assert.equal(expand('{{' + '('.repeat(50) + '1' + ')'.repeat(50) + '}}'), '1');
});

test('a string without {{ is returned as it is, whatever it holds', () => {
  assert.equal(expand('}} %s $x .A'), '}} %s $x .A');
});

test('a service spec is checked as swarmkit checks it: its templates must expand for a stand-in task', () => {
  const spec = (cs: Record<string, unknown>): unknown => ({
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: 'busybox:local', ...cs } },
  });
  const ok = normalizeServiceSpec(
    spec({
      Hostname: '{{.Node.Hostname}}',
      Env: ['A={{.Task.Slot}}'],
      Mounts: [{ Type: 'volume', Source: 'v{{.Task.Slot}}', Target: '/d' }],
    }),
  );
  assert.equal(
    ok.TaskTemplate?.ContainerSpec?.Hostname,
    '{{.Node.Hostname}}',
    'the spec is stored unexpanded',
  );
  const refused = (cs: Record<string, unknown>, message: string): void =>
    assert.throws(
      () => normalizeServiceSpec(spec(cs)),
      (e: unknown) => isShoalError(e) && httpStatusFor(e.code) === 400 && e.message === message,
    );
  refused(
    { Env: ['A={{.Nope}}'] },
    'expanding env failed: expanding env "A={{.Nope}}": template: expansion:1:2: executing "expansion" at <.Nope>: can\'t evaluate field Nope in type *template.Context',
  );
  refused(
    { Hostname: '{{.Node.Hostname' },
    'expanding hostname failed: template: expansion:1: unclosed action',
  );
  refused(
    { Mounts: [{ Type: 'volume', Source: '{{upper .Task.Slot}}', Target: '/d' }] },
    'expanding mounts failed: expanding mount source "{{upper .Task.Slot}}": template: expansion:1: function "upper" not defined',
  );
  // The stand-in service has no labels, so a label read as a field is refused (as Docker does).
  refused(
    { Env: ['T={{.Service.Labels.tier}}'] },
    'expanding env failed: expanding env "T={{.Service.Labels.tier}}": template: expansion:1:10: executing "expansion" at <.Service.Labels.tier>: map has no entry for key "tier"',
  );
});

test('any input either expands or fails with a TemplateError, within its bounds', () => {
  const pieces = [
    '{{',
    '}}',
    '{{- ',
    ' -}}',
    '.',
    '.Service',
    '.Labels',
    '.Name',
    '.Node',
    '$',
    '$x',
    ':=',
    '=',
    '|',
    '(',
    ')',
    ' ',
    '"s"',
    '`r`',
    "'c'",
    '1',
    '-2',
    '1.5',
    'if',
    'else',
    'end',
    'range',
    'with',
    'break',
    'continue',
    'nil',
    'true',
    'printf',
    'index',
    'len',
    'eq',
    'and',
    'or',
    'not',
    'join',
    'slice',
    'html',
    ',',
    '/*',
    '*/',
    'x',
    '\n',
    '%d',
  ];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
      const src = parts.join('');
      try {
        const out = expand(src);
        assert.equal(typeof out, 'string');
      } catch (e) {
        assert.ok(e instanceof TemplateError, `${src}: ${String(e)}`);
      }
    }),
    { numRuns: 3000, seed: 19 },
  );
});
