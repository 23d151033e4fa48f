// Hostile input, the shapes a careless or hostile client sends: nesting far past any schema,
// numbers no Go type holds, nulls in arrays, wrong types, names with escapes, values past shoal's
// documented bounds. The simulation's operator sends these through the ControlAPI and the fuzz
// suite through HTTP; every one must be refused with a 400 or taken harmlessly, and no manager may
// stop applying because of one.

/** Picks an integer in [0, n): a seeded generator's, so a run replays. */
export type Pick = (n: number) => number;

export type HostileKind = 'service' | 'swarm' | 'network' | 'node';

export interface HostileRequest {
  what: string;
  kind: HostileKind;
  body: unknown;
  /** false: the hostile part sits where Go would ignore it (an unknown field), so it may be taken. */
  mustReject: boolean;
}

function nest(depth: number, leaf: unknown, asArray: boolean): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

const BAD_NUMBERS = [1e308, 2 ** 64, 18446744073709552000, -1, 1.5, 2 ** 63, -(2 ** 63) - 4096];
const BAD_STRINGS = ['x'.repeat(70_000), 'a\u0000b', '\u001b[31mred', 'white space', '../etc', ''];

function set(o: Record<string, unknown>, path: string, v: unknown): Record<string, unknown> {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys.at(-1)!] = v;
  return o;
}

const baseService = (): Record<string, unknown> => ({
  Name: 'hostile',
  TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } },
  Mode: { Replicated: { Replicas: 0 } },
});

/** Fields that once took any JSON at all; a deep value there once bricked every manager. */
const FREE_FIELDS = [
  'TaskTemplate.PluginSpec',
  'TaskTemplate.NetworkAttachmentSpec',
  'TaskTemplate.ContainerSpec.Privileges',
  'TaskTemplate.Resources.Reservations.GenericResources',
];
/** Integer fields of Go types, with the absurd values that must be refused. */
const SERVICE_NUMBERS = [
  'Mode.Replicated.Replicas',
  'TaskTemplate.ContainerSpec.StopGracePeriod',
  'TaskTemplate.RestartPolicy.Delay',
  'TaskTemplate.RestartPolicy.MaxAttempts',
  'TaskTemplate.Resources.Limits.MemoryBytes',
  'TaskTemplate.ContainerSpec.Healthcheck.Interval',
  'UpdateConfig.Parallelism',
  'UpdateConfig.Monitor',
  'TaskTemplate.Placement.MaxReplicas',
];
const SWARM_NUMBERS = [
  'Dispatcher.HeartbeatPeriod',
  'CAConfig.NodeCertExpiry',
  'Raft.SnapshotInterval',
  'Raft.ElectionTick',
  'Orchestration.TaskHistoryRetentionLimit',
];
const NULL_ARRAYS = [
  'TaskTemplate.ContainerSpec.Secrets',
  'TaskTemplate.ContainerSpec.Configs',
  'TaskTemplate.ContainerSpec.Mounts',
  'TaskTemplate.Placement.Constraints',
  'TaskTemplate.Networks',
  'EndpointSpec.Ports',
];
/** Values past shoal's documented bounds, which fit their Go types. */
const PAST_BOUNDS: [string, number][] = [
  ['Mode.Replicated.Replicas', 200_001],
  ['TaskTemplate.RestartPolicy.Delay', 8 * 24 * 3600e9],
  ['UpdateConfig.Delay', 8 * 24 * 3600e9],
  ['TaskTemplate.ContainerSpec.StopGracePeriod', 2 ** 62],
];

export function hostileRequest(pick: Pick): HostileRequest {
  const of = <T>(xs: readonly T[]): T => xs[pick(xs.length)]!;
  switch (pick(9)) {
    case 0: {
      const field = of(FREE_FIELDS);
      const depth = of([65, 200, 2000, 5000]);
      // An array where an object (or a list of objects) belongs is a type error; nested objects
      // under unknown keys are dropped as Go drops them, so those may be taken.
      const asArray = pick(2) === 0;
      return {
        what: `${depth}-deep ${asArray ? 'array' : 'object'} in ${field}`,
        kind: 'service',
        body: set(baseService(), field, nest(depth, 1, asArray)),
        mustReject: asArray || field.endsWith('GenericResources'),
      };
    }
    case 1: {
      const field = of(SERVICE_NUMBERS);
      const n = of(BAD_NUMBERS);
      return {
        what: `${field} = ${n}`,
        kind: 'service',
        body: set(baseService(), field, n),
        // 2^63 fits a uint64, and these have no bound of shoal's: Go would take it, and so may we.
        mustReject: !(n === 2 ** 63 && /MaxAttempts|Parallelism|MaxReplicas/.test(field)),
      };
    }
    case 2: {
      const field = of(SWARM_NUMBERS);
      // Only values no field may take: a swarm update that went through would replace the spec.
      const n = of([
        1e308,
        2 ** 64,
        -1,
        1.5,
        -(2 ** 63) - 4096,
        ...(field.startsWith('Dispatcher') ? [7200e9, 1] : []),
      ]);
      return { what: `swarm ${field} = ${n}`, kind: 'swarm', body: set({}, field, n), mustReject: true };
    }
    case 3: {
      const field = of(NULL_ARRAYS);
      return {
        what: `${field} = [null]`,
        kind: 'service',
        body: set(baseService(), field, [null]),
        mustReject: true,
      };
    }
    case 4: {
      const [field, v] = of([
        ['TaskTemplate.ContainerSpec.Privileges', 'x'],
        ['TaskTemplate.ContainerSpec.Env', 'x'],
        ['Labels', []],
        ['Mode', []],
        ['TaskTemplate', 5],
        ['EndpointSpec.Ports', {}],
        ['TaskTemplate.ContainerSpec.Configs', [{ ConfigName: 'c', Runtime: [1] }]],
      ] as [string, unknown][]);
      return {
        what: `${field} = ${JSON.stringify(v)}`,
        kind: 'service',
        body: set(baseService(), field, v),
        mustReject: true,
      };
    }
    case 5: {
      const name = of(BAD_STRINGS);
      return {
        what: `service name ${JSON.stringify(name.slice(0, 12))}`,
        kind: 'service',
        body: { ...baseService(), Name: name },
        mustReject: true,
      };
    }
    case 6: {
      const name = of(BAD_STRINGS);
      return {
        what: `network name ${JSON.stringify(name.slice(0, 12))}`,
        kind: 'network',
        body: { Name: name, Driver: 'overlay' },
        mustReject: true,
      };
    }
    case 7: {
      const [field, v] = of(PAST_BOUNDS);
      return {
        what: `${field} = ${v} (past shoal's bound)`,
        kind: 'service',
        body: set(baseService(), field, v),
        mustReject: true,
      };
    }
    default: {
      const [field, v] = of([
        ['Labels', nest(100, 'x', false)],
        ['Availability', 'gone'],
        ['Role', 7],
        ['Labels.k', null],
      ] as [string, unknown][]);
      return {
        what: `node ${field}`,
        kind: 'node',
        body: set({ Availability: 'active', Role: 'worker' }, field, v),
        mustReject: true,
      };
    }
  }
}

/** A task status report as a broken or hostile agent might send it. */
export function hostileStatus(pick: Pick): unknown {
  const ok = { Timestamp: '2026-01-01T00:00:00Z', State: 'running', Message: 'started' };
  const bad: unknown[] = [
    null,
    [],
    'running',
    { ...ok, State: 'exploded' },
    { ...ok, Timestamp: 'yesterday' },
    { ...ok, Message: 'm'.repeat(70_000) },
    { ...ok, ContainerStatus: { ExitCode: 1e308 } },
    { ...ok, PortStatus: { Ports: [null] } },
    { ...ok, Message: nest(3000, 'x', true) },
  ];
  return bad[pick(bad.length)];
}
