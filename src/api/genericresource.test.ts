import { test } from 'node:test';
import assert from 'node:assert/strict';
import { genericResourceEnv, parseGenericResources } from './genericresource.js';
import { normalizeServiceSpec, validateNodeDescription } from './validate/index.js';
import { ShoalError } from './errors.js';

const refused = (fn: () => unknown, re: RegExp): void =>
  assert.throws(
    fn,
    (e: unknown) => e instanceof ShoalError && e.code === 'InvalidArgument' && re.test(e.message),
  );

test('node generic resources parse as dockerd parses them: a count, or a set of named items', () => {
  assert.deepEqual(parseGenericResources(['gpu=2', ' ssd = GPU-x ', 'fpga=a', 'fpga=b']), [
    { DiscreteResourceSpec: { Kind: 'gpu', Value: 2 } },
    { NamedResourceSpec: { Kind: 'ssd', Value: 'GPU-x' } },
    { NamedResourceSpec: { Kind: 'fpga', Value: 'a' } },
    { NamedResourceSpec: { Kind: 'fpga', Value: 'b' } },
  ]);
  refused(() => parseGenericResources(['gpu']), /incorrect term gpu, missing '='/);
  refused(() => parseGenericResources(['gpu=1=2']), /incorrect term gpu=1=2/);
  refused(() => parseGenericResources(['gpu=-1']), /cannot ask for negative resource gpu/);
  refused(() => parseGenericResources(['gpu=1', 'gpu=a']), /mixed discrete and named resources/);
});

test('a service keeps every spread descriptor, as Docker stores it, and drops preferences without one', () => {
  const placement = (Preferences: unknown): unknown =>
    normalizeServiceSpec({
      Name: 'web',
      TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Placement: { Preferences } },
    }).TaskTemplate!.Placement!.Preferences;
  const kept = [
    { Spread: { SpreadDescriptor: 'node.labels.zone' } },
    { Spread: { SpreadDescriptor: 'node.hostname' } },
    { Spread: { SpreadDescriptor: 'anything at all' } },
  ];
  assert.deepEqual(placement(kept), kept);
  assert.deepEqual(placement([{}, { Spread: {} }]), [{ Spread: { SpreadDescriptor: '' } }]);
});

test('a service may ask for generic resource counts, not for a negative one', () => {
  const spec = (GenericResources: unknown): unknown =>
    normalizeServiceSpec({
      Name: 'web',
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox:local' },
        Resources: { Reservations: { GenericResources } },
      },
    }).TaskTemplate!.Resources!.Reservations!.GenericResources;
  const gpu = [{ DiscreteResourceSpec: { Kind: 'gpu', Value: 1 } }];
  assert.deepEqual(spec(gpu), gpu);
  refused(() => spec([{ DiscreteResourceSpec: { Kind: 'gpu', Value: -1 } }]), /must be non-negative/);
});

test("a worker's description keeps its generic resources, bounded like the rest of it", () => {
  const gpu = [
    { DiscreteResourceSpec: { Kind: 'gpu', Value: 2 } },
    { NamedResourceSpec: { Kind: 'fpga', Value: 'F-1' } },
  ];
  const d = (GenericResources: unknown): unknown =>
    validateNodeDescription({
      Hostname: 'n1',
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9, GenericResources },
      Engine: { EngineVersion: '20.10' },
    }).Resources.GenericResources;
  assert.deepEqual(d(gpu), gpu);
  refused(() => d([{ DiscreteResourceSpec: { Kind: 'gpu', Value: -2 } }]), /must be non-negative/);
  refused(() => d(Array.from({ length: 1001 }, () => gpu[0])), /at most 1000 generic resources/);
});

test('assigned generic resources reach the container as DOCKER_RESOURCE_<KIND>, as Swarm sets them', () => {
  assert.deepEqual(
    genericResourceEnv([
      { NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-b' } },
      { DiscreteResourceSpec: { Kind: 'ssd', Value: 2 } },
      { NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-a' } },
    ]),
    ['DOCKER_RESOURCE_GPU=GPU-b,GPU-a', 'DOCKER_RESOURCE_SSD=2'],
  );
  assert.deepEqual(genericResourceEnv(undefined), []);
});
