// The swarm itself: its spec (init and update), a node's spec, and the bodies of swarm init and join.
import { tryParseCidr } from '../addr.js';
import { badParameter, invalidArgument } from '../errors.js';
import { checkBody, duration, int64, uint32, uint64, type Schema } from '../schema.js';
import type { NodeSpec, SwarmSpec } from '../types.js';
import {
  atMost,
  DRIVER,
  MAX_CERT_EXPIRY_NS,
  MAX_HEARTBEAT_NS,
  MAX_TASK_HISTORY,
  MIN_CERT_EXPIRY_NS,
  MIN_HEARTBEAT_NS,
  nonNegative,
  oneOf,
} from './common.js';

export function validateNodeSpec(raw: unknown): NodeSpec {
  const spec = checkBody<NodeSpec>(
    raw,
    { obj: { Name: 'string', Labels: 'labels', Role: 'string', Availability: 'string' } },
    'a NodeSpec',
  );
  oneOf(spec.Role, ['worker', 'manager'] as const, 'Role');
  oneOf(spec.Availability, ['active', 'pause', 'drain'] as const, 'Availability');
  return spec;
}

const SWARM_SPEC = {
  obj: {
    Name: 'string',
    Labels: 'labels',
    Orchestration: { obj: { TaskHistoryRetentionLimit: int64 } },
    Raft: {
      obj: {
        SnapshotInterval: uint64,
        KeepOldSnapshots: uint64,
        LogEntriesForSlowFollowers: uint64,
        ElectionTick: int64,
        HeartbeatTick: int64,
      },
    },
    Dispatcher: { obj: { HeartbeatPeriod: duration } },
    CAConfig: {
      obj: {
        NodeCertExpiry: duration,
        ExternalCAs: {
          arr: { obj: { Protocol: 'string', URL: 'string', Options: 'labels', CACert: 'string' } },
        },
        SigningCACert: 'string',
        SigningCAKey: 'string',
        ForceRotate: uint64,
      },
    },
    TaskDefaults: { obj: { LogDriver: DRIVER } },
    EncryptionConfig: { obj: { AutoLockManagers: 'bool' } },
  },
} satisfies Schema;

/** Checks a SwarmSpec (swarm init and update). */
export function validateSwarmSpec(raw: unknown): SwarmSpec {
  const spec = checkBody<SwarmSpec>(raw, SWARM_SPEC, 'a SwarmSpec');
  // Docker accepts a negative history limit and then keeps no history; we refuse it.
  const limit = spec.Orchestration?.TaskHistoryRetentionLimit;
  if (limit !== undefined && limit < 0) {
    throw invalidArgument(`task history retention limit must be non-negative, got ${limit}`);
  }
  atMost(limit, MAX_TASK_HISTORY, 'task history retention limit');
  for (const [k, v] of Object.entries(spec.Raft ?? {})) nonNegative(v as number, `Raft.${k}`);
  const hb = spec.Dispatcher?.HeartbeatPeriod;
  if (hb !== undefined && hb !== 0 && (hb < MIN_HEARTBEAT_NS || hb > MAX_HEARTBEAT_NS)) {
    throw invalidArgument(`heartbeat period must be between 50ms and 1h, got ${hb / 1e6}ms`);
  }
  const expiry = spec.CAConfig?.NodeCertExpiry;
  if (expiry !== undefined && expiry !== 0 && expiry < MIN_CERT_EXPIRY_NS) {
    throw invalidArgument('minimum certificate expiry time is 1h');
  }
  atMost(expiry, MAX_CERT_EXPIRY_NS, 'certificate expiry', '20 years (175200h)');
  const ca = spec.CAConfig;
  if (ca?.SigningCACert || ca?.SigningCAKey || ca?.ExternalCAs?.length)
    throw invalidArgument(
      'shoal generates its own root CA: --ca-cert, --ca-key and --external-ca are not supported; use "docker swarm ca --rotate" alone',
    );
  return spec;
}

// ---- swarm init and join ----

const ADDR = /^[A-Za-z0-9._%:[\]-]{1,255}$/;

/** An address as Docker takes it: an IP or host name or interface name, with or without a port. */
export function validateAddr(v: string, what: string): string {
  const port = /:(\d+)$/.exec(v)?.[1];
  if (!ADDR.test(v) || (port !== undefined && Number(port) > 65535))
    throw invalidArgument(
      `invalid ${what} "${v.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}": use an address or interface, with an optional :port`,
    );
  return v;
}

export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  DataPathPort?: number;
  DefaultAddrPool?: string[];
  SubnetSize?: number;
  ForceNewCluster?: boolean;
  Spec?: SwarmSpec;
}

/** The swarm's overlay address pools and VXLAN port, fixed at init as in the cluster object. */
export interface ClusterNetworkConfig {
  /** Absent: Docker's default pool (10.0.0.0/8), shown as null. */
  DefaultAddrPool?: string[];
  SubnetSize: number;
  DataPathPort: number;
}

export const DEFAULT_DATA_PATH_PORT = 4789;

/**
 * The init request's DefaultAddrPool, SubnetSize and DataPathPort, checked as dockerd checks them
 * (its messages; dockerd answers 500, a 400 here since the caller is at fault). A subnet size
 * without a pool is ignored, as Docker ignores it.
 */
export function initNetworkConfig(req: InitRequest): ClusterNetworkConfig {
  const port = req.DataPathPort || DEFAULT_DATA_PATH_PORT;
  if (port < 1024 || port > 49151)
    throw badParameter(`Datapath port number is not in valid range (1024-49151) : ${port}`);
  const pools = (req.DefaultAddrPool ?? []).map((p) => p.trim());
  if (pools.length > 64) throw badParameter('at most 64 default address pools may be given');
  if (pools.length === 0) return { SubnetSize: 24, DataPathPort: port };
  const size = req.SubnetSize || 24;
  if (size > 29) throw badParameter(`subnet size is out of range: ${size}`);
  for (const p of pools) {
    const c = tryParseCidr(p);
    if (!c) throw badParameter(`invalid base pool ${p}: invalid CIDR address: ${p}`);
    if (size < c.bits)
      throw badParameter(`invalid CIDR: ${JSON.stringify(p)}. Subnet size is too small for pool: ${size}`);
  }
  // Kept as given (trimmed), as Docker shows them; the allocator reads them masked.
  return { DefaultAddrPool: pools, SubnetSize: size, DataPathPort: port };
}

export function validateInitRequest(raw: unknown): InitRequest & { network: ClusterNetworkConfig } {
  const body = checkBody<InitRequest>(
    raw ?? {},
    {
      obj: {
        ListenAddr: 'string',
        AdvertiseAddr: 'string',
        DataPathAddr: 'string',
        DataPathPort: uint32,
        DefaultAddrPool: 'strings',
        SubnetSize: uint32,
        ForceNewCluster: 'bool',
        Availability: 'string',
        Spec: SWARM_SPEC,
      },
    },
    'a SwarmInitRequest',
  );
  for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr'] as const) {
    if (body[k] === '') delete body[k];
    if (body[k] !== undefined) validateAddr(body[k], k);
  }
  // The schema has read the spec's types; these are its semantic checks.
  if (body.Spec !== undefined) body.Spec = validateSwarmSpec(body.Spec);
  return { ...body, network: initNetworkConfig(body) };
}

export interface JoinRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  RemoteAddrs: string[];
  JoinToken: string;
  Availability?: 'active' | 'pause' | 'drain';
}

export function validateJoinRequest(raw: unknown): JoinRequest {
  const body = checkBody<Partial<JoinRequest>>(
    raw ?? {},
    {
      obj: {
        ListenAddr: 'string',
        AdvertiseAddr: 'string',
        DataPathAddr: 'string',
        RemoteAddrs: 'strings',
        JoinToken: 'string',
        Availability: 'string',
      },
    },
    'a SwarmJoinRequest',
  );
  for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr', 'Availability'] as const) {
    if (body[k] === '') delete body[k];
  }
  for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr'] as const)
    if (body[k] !== undefined) validateAddr(body[k], k);
  const remote = body.RemoteAddrs ?? [];
  if (remote.length === 0 || remote.some((r) => !r))
    throw invalidArgument('at least 1 RemoteAddr is required to join');
  if (remote.length > 64) throw invalidArgument('at most 64 RemoteAddrs may be given');
  for (const r of remote) validateAddr(r, 'RemoteAddr');
  if (!body.JoinToken) throw invalidArgument('JoinToken is required');
  if (body.JoinToken.length > 256 || !/^[\x21-\x7e]+$/.test(body.JoinToken))
    throw invalidArgument('invalid join token');
  oneOf(body.Availability, ['active', 'pause', 'drain'] as const, 'Availability');
  return { ...body, RemoteAddrs: remote, JoinToken: body.JoinToken };
}
