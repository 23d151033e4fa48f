// How objects look at the edge: service status, defaults for insertDefaults, Docker's network
// shape, and the filters of list endpoints. Pure functions over store reads.
import {
  badParameter,
  type Cluster,
  type Filters,
  type Network,
  type Node,
  type Service,
  type Task,
} from '../api/index.js';
import type { ReadTx } from '../state/index.js';
import { tlsInfoOf } from '../ca/index.js';
import { DEFAULT_RESTART, DEFAULT_UPDATE, isLive, isTaskDirty, modeOf } from '../manager/index.js';

/** A service as `insertDefaults=true` shows it: swarmkit's defaults under what the spec holds. */
export function withDefaults(s: Service): Service {
  const out = structuredClone(s) as Service;
  const spec = out.Spec;
  const tt = (spec.TaskTemplate ??= {});
  if (tt.ContainerSpec) {
    tt.ContainerSpec.StopGracePeriod ??= 10e9;
    tt.ContainerSpec.DNSConfig ??= {};
  }
  tt.Resources ??= {};
  tt.Placement ??= {};
  tt.RestartPolicy = {
    Condition: DEFAULT_RESTART.Condition,
    Delay: DEFAULT_RESTART.Delay,
    MaxAttempts: 0,
    ...(tt.RestartPolicy ?? {}),
  };
  const upd = {
    Parallelism: 1,
    FailureAction: DEFAULT_UPDATE.FailureAction,
    Monitor: DEFAULT_UPDATE.Monitor,
    MaxFailureRatio: 0,
    Order: DEFAULT_UPDATE.Order,
  };
  spec.UpdateConfig = { ...upd, ...(spec.UpdateConfig ?? {}) };
  spec.RollbackConfig = { ...upd, ...(spec.RollbackConfig ?? {}) };
  return out;
}

/**
 * ServiceStatus for `service ls`, counted as Swarm counts it, except that tasks on down nodes
 * count neither as running nor as desired (Swarm counts them). A job counts only the tasks of
 * its current iteration; a global job's desired tasks are those not yet complete, so a finished
 * one on one node reads `0/0 (1/1 completed)` (the CLI shows completed/(desired+completed)).
 */
export function serviceStatus(
  tx: ReadTx,
  s: Service,
  nodes: ReadonlyMap<string, Node>,
): NonNullable<Service['ServiceStatus']> {
  const up = (t: Task): boolean => !t.NodeID || nodes.get(t.NodeID)?.Status.State !== 'down';
  const iteration = s.JobStatus?.JobIteration.Index ?? 0;
  const kind = modeOf(s);
  const job = kind === 'replicated-job' || kind === 'global-job';
  let running = 0;
  let live = 0;
  let completed = 0;
  let toComplete = 0;
  // One pass over the service's tasks: this runs for every service on each `service ls`.
  for (const t of tx.tasksByService(s.ID)) {
    if (job && (t.JobIteration?.Index ?? 0) !== iteration) continue;
    const l = isLive(t) && up(t);
    if (l) live++;
    if (l && t.Status.State === 'running') running++;
    if (t.Status.State === 'complete') completed++;
    else if (l && t.DesiredState === 'complete') toComplete++;
  }
  let desired = 0;
  if (kind === 'replicated') desired = s.Spec.Mode?.Replicated?.Replicas ?? 1;
  else if (kind === 'global') desired = live;
  else if (kind === 'replicated-job') desired = s.Spec.Mode?.ReplicatedJob?.MaxConcurrent ?? 1;
  else desired = toComplete;
  return {
    RunningTasks: running,
    DesiredTasks: desired,
    CompletedTasks: job ? completed : 0,
  };
}

const byCreation = (a: { CreatedAt: string; ID: string }, b: { CreatedAt: string; ID: string }): number =>
  a.CreatedAt < b.CreatedAt ? -1 : a.CreatedAt > b.CreatedAt ? 1 : a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;

function labelMatch(labels: Record<string, string> | undefined, wanted: string[]): boolean {
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i < 0) return labels?.[w] !== undefined;
    return labels?.[w.slice(0, i)] === w.slice(i + 1);
  });
}

function checkKeys(f: Filters, allowed: string[]): void {
  // dockerd checks filter keys itself, so its message has no rpc prefix.
  for (const k of f.keys()) if (!allowed.includes(k)) throw badParameter(`invalid filter '${k}'`);
}

export function filterServices(tx: ReadTx, f: Filters): Service[] {
  checkKeys(f, ['id', 'name', 'label', 'mode']);
  // A label filter narrows through the label index first (stacks list by label all the time).
  const firstLabel = f.get('label')?.[0];
  const candidates = firstLabel !== undefined ? tx.by('services', 'label', firstLabel) : tx.all('services');
  return candidates
    .filter((s) => {
      const ids = f.get('id');
      if (ids && !ids.some((id) => s.ID.startsWith(id))) return false;
      const names = f.get('name');
      if (names && !names.some((n) => (s.Spec.Name ?? '').startsWith(n))) return false;
      const labels = f.get('label');
      if (labels && !labelMatch(s.Spec.Labels, labels)) return false;
      const modes = f.get('mode');
      if (modes && !modes.includes(modeOf(s))) return false;
      return true;
    })
    .sort(byCreation);
}

/**
 * A task as Docker shows it: its spec has no Runtime for a container task (Docker sets the field
 * on a service's spec only), though the stored copy of the service's template carries one.
 */
export function publicTask(t: Task): Task {
  // The host ports a task binds are shoal's bookkeeping; Docker shows them in Status.PortStatus.
  const { HostPorts: _h, ...task } = t;
  if (task.Spec.Runtime !== 'container') return _h ? task : t;
  const { Runtime: _r, ...spec } = task.Spec;
  return { ...task, Spec: spec };
}

export function taskName(t: Task, serviceName: string): string {
  return `${serviceName}.${t.Slot !== undefined ? t.Slot : (t.NodeID ?? '')}`;
}

export function filterTasks(tx: ReadTx, f: Filters): Task[] {
  checkKeys(f, ['id', 'name', 'service', 'node', 'label', 'desired-state', '_up-to-date', 'runtime']);
  const serviceRefs = f.get('service');
  let candidates: Task[];
  if (serviceRefs) {
    const ids = new Set<string>();
    for (const ref of serviceRefs) {
      const s = tx.lookup('services', ref);
      if (s) ids.add(s.ID);
    }
    candidates = [...ids].flatMap((id) => tx.tasksByService(id));
  } else if (f.get('label')?.[0] !== undefined) {
    // Task label filters match service labels: go through the services' label index.
    const services = tx.by('services', 'label', f.get('label')![0]!);
    candidates = [
      ...services.flatMap((s) => tx.tasksByService(s.ID)),
      ...tx.by('tasks', 'label', f.get('label')![0]!),
    ];
    candidates = [...new Map(candidates.map((t) => [t.ID, t])).values()];
  } else if (f.get('desired-state')) {
    candidates = f.get('desired-state')!.flatMap((d) => tx.by('tasks', 'desired', d));
  } else candidates = tx.all('tasks');
  const nodeRefs = f.get('node');
  const nodeIds = nodeRefs ? new Set(nodeRefs.map((r) => tx.lookup('nodes', r)?.ID ?? r)) : undefined;
  const upToDate = f.get('_up-to-date');
  return candidates.filter((t) => {
    const svc = tx.get('services', t.ServiceID);
    const ids = f.get('id');
    if (ids && !ids.some((id) => t.ID.startsWith(id))) return false;
    const names = f.get('name');
    if (names && !names.some((n) => taskName(t, svc?.Spec.Name ?? '').startsWith(n))) return false;
    if (nodeIds && !(t.NodeID && nodeIds.has(t.NodeID))) return false;
    const labels = f.get('label');
    // Swarm matches a task's label filter against its service's labels (what stacks rely on).
    if (labels && !labelMatch({ ...(svc?.Spec.Labels ?? {}), ...t.Labels }, labels)) return false;
    const desired = f.get('desired-state');
    if (desired) {
      for (const d of desired)
        if (!['running', 'shutdown', 'accepted', 'ready', 'complete', 'remove'].includes(d))
          throw badParameter(`invalid filter 'desired-state=${d}'`);
      if (!desired.includes(t.DesiredState)) return false;
    }
    if (upToDate && upToDate.length > 0) {
      if (!svc || isTaskDirty(svc, t)) return false;
      if (!isLive(t) && t.DesiredState !== 'shutdown') return false;
    }
    return true;
  });
}

export function filterNodes(tx: ReadTx, f: Filters): Node[] {
  checkKeys(f, ['id', 'name', 'role', 'membership', 'label', 'node.label']);
  const firstNodeLabel = f.get('node.label')?.[0];
  const candidates = firstNodeLabel !== undefined ? tx.by('nodes', 'label', firstNodeLabel) : tx.all('nodes');
  return candidates.filter((n) => {
    const ids = f.get('id');
    if (ids && !ids.some((id) => n.ID.startsWith(id))) return false;
    const names = f.get('name');
    if (names && !names.some((x) => n.Description.Hostname.startsWith(x))) return false;
    const roles = f.get('role');
    if (roles && !roles.includes(n.Spec.Role ?? 'worker')) return false;
    const membership = f.get('membership');
    if (membership && !membership.includes('accepted')) return false;
    const engineLabels = f.get('label');
    if (engineLabels && !labelMatch(n.Description.Engine.Labels, engineLabels)) return false;
    const nodeLabels = f.get('node.label');
    if (nodeLabels && !labelMatch(n.Spec.Labels, nodeLabels)) return false;
    return true;
  });
}

/** The Engine API's network shape (GET /networks), built from the swarm network object. */
export function dockerNetwork(n: Network): Record<string, unknown> {
  return {
    Name: n.Spec.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: 'swarm',
    Driver: n.DriverState.Name,
    EnableIPv6: n.Spec.IPv6Enabled ?? false,
    IPAM: {
      Driver: n.IPAMOptions.Driver.Name,
      Options: n.IPAMOptions.Driver.Options ?? null,
      Config: n.IPAMOptions.Configs.map((c) => ({ ...c })),
    },
    Internal: n.Spec.Internal ?? false,
    Attachable: n.Spec.Attachable ?? false,
    Ingress: n.Spec.Ingress ?? false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: null,
    Options: n.DriverState.Options ?? {},
    Labels: n.Spec.Labels && Object.keys(n.Spec.Labels).length > 0 ? n.Spec.Labels : null,
  };
}

/** A task whose container may still be on its node: assigned and not yet past running. */
const onNode = (t: Task): boolean =>
  t.NodeID !== undefined &&
  !['new', 'pending', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'].includes(
    t.Status.State,
  );

const bareAddr = (a: string): string => a.split('/')[0] ?? a;

/**
 * What a manager's dockerd adds to a swarm network it carries: `Peers`, the nodes that have it
 * (those with live tasks on it; every ready node for ingress, whose sandbox each node runs), as
 * `{Name: hostname, IP: node address}`, shown only when some node has it; and with `verbose`,
 * `Services`: per service name its VIP, ports, and tasks with their address on the network and
 * their node's address (libnetwork's ServiceInfo; endpoint IDs are the engine's, not shown here).
 */
export function networkDetail(tx: ReadTx, n: Network, verbose: boolean): Record<string, unknown> {
  const tasks = tx
    .all('tasks')
    .filter((t) => onNode(t) && (t.NetworksAttachments ?? []).some((a) => a.Network.ID === n.ID));
  const nodeIds = new Set(tasks.map((t) => t.NodeID!));
  if (n.Spec.Ingress)
    for (const node of tx.all('nodes')) if (node.Status.State === 'ready') nodeIds.add(node.ID);
  const out: Record<string, unknown> = {};
  const nodes = [...nodeIds]
    .map((id) => tx.get('nodes', id))
    .filter((x): x is Node => x !== undefined)
    .sort((a, b) => (a.Description.Hostname ?? '').localeCompare(b.Description.Hostname ?? ''));
  if (nodes.length > 0)
    out.Peers = nodes.map((node) => ({
      Name: node.Description.Hostname ?? node.ID,
      IP: node.Status.Addr ?? '',
    }));
  if (!verbose) return out;
  const services: Record<string, unknown> = {};
  for (const t of tasks) {
    const s = tx.get('services', t.ServiceID);
    if (!s) continue;
    const name = s.Spec.Name ?? s.ID;
    const vip = (s.Endpoint.VirtualIPs ?? []).find((v) => v.NetworkID === n.ID);
    const info = (services[name] ??= {
      VIP: vip ? bareAddr(vip.Addr) : '',
      Ports: [],
      LocalLBIndex: 0,
      Tasks: [],
    }) as { Tasks: unknown[] };
    const addr = (t.NetworksAttachments ?? []).find((a) => a.Network.ID === n.ID)?.Addresses[0];
    info.Tasks.push({
      Name: `${taskName(t, name)}.${t.ID}`,
      EndpointID: '',
      EndpointIP: addr ? bareAddr(addr) : '',
      Info: { 'Host IP': tx.get('nodes', t.NodeID!)?.Status.Addr ?? '' },
    });
  }
  out.Services = services;
  return out;
}

export function filterNetworks(tx: ReadTx, f: Filters): Network[] {
  checkKeys(f, ['id', 'name', 'label', 'driver', 'scope', 'type', 'dangling']);
  return tx.all('networks').filter((n) => {
    const ids = f.get('id');
    if (ids && !ids.some((id) => n.ID.startsWith(id))) return false;
    const names = f.get('name');
    if (names && !names.some((x) => n.Spec.Name.includes(x))) return false;
    const labels = f.get('label');
    if (labels && !labelMatch(n.Spec.Labels, labels)) return false;
    const drivers = f.get('driver');
    if (drivers && !drivers.includes('overlay')) return false;
    const scopes = f.get('scope');
    if (scopes && !scopes.includes('swarm')) return false;
    return true;
  });
}

/**
 * The cluster as the API shows it: no CA key, and Docker's TLSInfo of the desired root (the new
 * one during a rotation, which is what `docker swarm ca --rotate` waits for nodes to reach).
 */
export function publicCluster(c: Cluster): Cluster {
  const { RootCA, UnlockKey: _k, ...rest } = c;
  const desired = RootCA?.Rotation?.CACert ?? RootCA?.CACert;
  return { ...rest, TLSInfo: desired ? tlsInfoOf(desired) : rest.TLSInfo };
}
