// Networks, secrets and configs: the objects a service refers to by name.
import { cidrContains, formatCidr, formatIp, parseIp, tryParseCidr } from '../addr.js';
import { badParameter, invalidArgument } from '../errors.js';
import { checkBody, type Schema } from '../schema.js';
import type { ConfigSpec, IPAMConfig, NetworkSpec, SecretSpec } from '../types.js';
import { DRIVER, isValidName } from './common.js';

/** IPAM drivers a swarm network may name: Docker's swarm knows "default" and IPAM plugins. */
const IPAM_DRIVERS = ['default'];

/**
 * One IPAM config as swarmkit's validateIPAMConfiguration checks it (its messages), then in the
 * canonical text Docker stores: host bits cleared, IPv6 in RFC 5952 form.
 */
function checkIpamConfig(c: { Subnet?: string; IPRange?: string; Gateway?: string }): IPAMConfig {
  const subnet = tryParseCidr(c.Subnet ?? '');
  if (!subnet) throw invalidArgument(`ipam configuration: invalid subnet ${c.Subnet ?? ''}`);
  // swarmkit takes these and its allocator then fails for good when it finds no address for the
  // gateway or a task (libnetwork's "no available IPv4 addresses", only logged); shoal refuses them.
  if (subnet.bits > (subnet.family === 4 ? 30 : 126))
    throw invalidArgument(
      `ipam configuration: subnet ${c.Subnet} is too small for an overlay network, which needs addresses for its gateway and its tasks (at most /${subnet.family === 4 ? 30 : 126})`,
    );
  const out: IPAMConfig = { Subnet: formatCidr(subnet) };
  if (c.IPRange) {
    const range = tryParseCidr(c.IPRange);
    const start = range && { family: range.family, value: range.base };
    if (!start) throw invalidArgument(`ipam configuration: invalid range ${c.IPRange}`);
    if (!cidrContains(subnet, start) || range.bits < subnet.bits)
      throw invalidArgument(`ipam configuration: subnet ${c.Subnet} does not contain range ${c.IPRange}`);
    out.IPRange = formatCidr(range);
  }
  if (c.Gateway) {
    const gw = parseIp(c.Gateway);
    if (!gw) throw invalidArgument(`ipam configuration: invalid gateway ${c.Gateway}`);
    if (!cidrContains(subnet, gw))
      throw invalidArgument(`ipam configuration: subnet ${c.Subnet} does not contain gateway ${c.Gateway}`);
    out.Gateway = formatIp(gw.family, gw.value);
  }
  return out;
}

export function validateNetworkSpec(
  raw: unknown,
): NetworkSpec & { Driver?: string; CheckDuplicate?: boolean } {
  const body = checkBody<
    Record<string, unknown> & { Name?: string; Driver?: string; Labels?: Record<string, string> }
  >(
    raw,
    {
      obj: {
        Name: 'string',
        CheckDuplicate: 'bool',
        Driver: 'string',
        Scope: 'string',
        Internal: 'bool',
        Attachable: 'bool',
        Ingress: 'bool',
        EnableIPv6: 'bool',
        Labels: 'labels',
        Options: 'labels',
        IPAM: {
          obj: {
            Driver: 'string',
            Options: 'labels',
            Config: { arr: { obj: { Subnet: 'string', IPRange: 'string', Gateway: 'string' } } },
          },
        },
        ConfigOnly: 'bool',
        ConfigFrom: { obj: { Network: 'string' } },
      },
    },
    'a NetworkCreateRequest',
  );
  const name = body.Name ?? '';
  if (!name) throw invalidArgument('network name must be provided');
  // Swarm-scoped networks are named as services are (swarmkit's validateAnnotations).
  if (!isValidName(name))
    throw invalidArgument('name must be valid as a DNS name component (at most 63 characters)');
  const driver = body.Driver ?? 'overlay';
  if (driver !== 'overlay') {
    throw invalidArgument(
      `network driver "${driver}" is not supported by shoal; swarm-scoped networks use "overlay"`,
    );
  }
  if (body.Attachable === true && body.Ingress === true)
    throw invalidArgument('ingress network cannot be attachable');
  const ipam = body.IPAM as
    | {
        Driver?: string;
        Options?: Record<string, string>;
        Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[];
      }
    | undefined;
  // Docker reads an empty IPAM driver as "default"; any other name is an IPAM plugin, which a
  // swarm manager looks up and, finding none, refuses with this message (shoal runs no plugins).
  const ipamDriver = ipam?.Driver || 'default';
  if (!IPAM_DRIVERS.includes(ipamDriver.toLowerCase()))
    throw invalidArgument(`error during lookup of plugin ${ipamDriver}`);
  const configs = (ipam?.Config ?? []).map(checkIpamConfig);
  const spec: NetworkSpec & { Driver?: string } = {
    Name: name,
    Labels: body.Labels ?? {},
    DriverConfiguration: {
      Name: 'overlay',
      ...(body.Options ? { Options: body.Options as Record<string, string> } : {}),
    },
    Scope: 'swarm',
    IPAMOptions: {
      Driver: {
        Name: ipamDriver,
        ...(ipam?.Options && Object.keys(ipam.Options).length > 0 ? { Options: ipam.Options } : {}),
      },
      ...(ipam?.Config ? { Configs: configs } : {}),
    },
  };
  if (body.Internal === true) spec.Internal = true;
  if (body.Attachable === true) spec.Attachable = true;
  if (body.Ingress === true) spec.Ingress = true;
  if (body.EnableIPv6 === true) spec.IPv6Enabled = true;
  return spec;
}

// ---- secrets and configs ----

/** swarmkit's limits: the decoded data must be shorter than these (v1.41.yaml: 500KB and 1000KB). */
export const MAX_SECRET_SIZE = 500 * 1024;
export const MAX_CONFIG_SIZE = 1000 * 1024;

const isBase64Char = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
const isNewline = (c: number | undefined): boolean => c === 10 || c === 13;

/**
 * Decodes padded standard base64 as Go's encoding/json does for a []byte field (newlines are
 * skipped), failing with Go's message and offset so the CLI shows what Docker would.
 */
export function decodeBase64(s: string): Buffer {
  const bad = (at: number): never => {
    throw badParameter(`illegal base64 data at input byte ${at}`);
  };
  const done = (): Buffer => Buffer.from(s.replace(/[\r\n=]/g, ''), 'base64');
  let i = 0;
  const skipNewlines = (): void => {
    while (i < s.length && isNewline(s.charCodeAt(i))) i++;
  };
  for (;;) {
    let j = 0; // characters of the current 4-character quantum
    while (j < 4) {
      if (i === s.length) return j === 0 ? done() : bad(i - j);
      const c = s.charCodeAt(i++);
      if (isBase64Char(c)) j++;
      else if (isNewline(c)) continue;
      else if (c !== 61 || j < 2) bad(i - 1);
      else {
        if (j === 2) {
          skipNewlines();
          if (i === s.length) bad(s.length);
          if (s.charCodeAt(i) !== 61) bad(i - 1);
          i++;
        }
        skipNewlines();
        if (i < s.length) bad(i);
        return done();
      }
    }
  }
}

const OBJECT_SPEC = {
  obj: { Name: 'string', Labels: 'labels', Data: 'string', Driver: DRIVER, Templating: DRIVER },
} satisfies Schema;
const OBJECT_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

/** A SecretSpec or ConfigSpec body as Docker's JSON decoding sees it: typed, with Data decoded. */
export interface DecodedObjectSpec {
  spec: SecretSpec;
  data: Buffer | undefined;
}

export function decodeObjectSpec(raw: unknown, kind: 'secret' | 'config'): DecodedObjectSpec {
  const spec = checkBody<Partial<SecretSpec>>(
    raw,
    OBJECT_SPEC,
    `a ${kind === 'secret' ? 'Secret' : 'Config'}Spec`,
  );
  const data = spec.Data === undefined ? undefined : decodeBase64(spec.Data);
  return { spec: { ...spec, Name: spec.Name ?? '' }, data };
}

function validateObjectSpec(raw: unknown, kind: 'secret' | 'config'): SecretSpec {
  const { spec, data } = decodeObjectSpec(raw, kind);
  if (spec.Name === '') throw invalidArgument('name must be provided');
  if (spec.Name.length > 64 || !OBJECT_NAME.test(spec.Name)) {
    throw invalidArgument(
      'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]',
    );
  }
  // A ConfigSpec has no Driver field, so Docker's decoder drops one there.
  if (spec.Driver && kind === 'secret') {
    throw invalidArgument('secret drivers are not supported by shoal; create the secret with its data');
  }
  const max = kind === 'secret' ? MAX_SECRET_SIZE : MAX_CONFIG_SIZE;
  const size = data?.length ?? 0;
  if (size < 1 || size >= max) {
    throw invalidArgument(`${kind} data must be larger than 0 and less than ${max} bytes`);
  }
  return {
    Name: spec.Name,
    Labels: spec.Labels ?? {},
    Data: data!.toString('base64'),
    // Stored as given: each task's node expands it (agent/secrets/templated.ts), as swarmkit's agent.
    ...(spec.Templating ? { Templating: spec.Templating } : {}),
  };
}

/** Checks a SecretSpec for create; Data comes back as canonical base64. */
export function validateSecretSpec(raw: unknown): SecretSpec {
  return validateObjectSpec(raw, 'secret');
}

/** Checks a ConfigSpec for create; Data comes back as canonical base64. */
export function validateConfigSpec(raw: unknown): ConfigSpec {
  return validateObjectSpec(raw, 'config');
}
