// Generic resources as reservations, with swarmkit's rules: a task asks for a count of a kind
// (DiscreteResourceSpec); a node offers a count or a set of named items of it. A request is met
// from a count by subtraction and from a set by handing out that many named items, which the task
// keeps (Task.GenericResources) so the scheduler knows which are taken. Pure.
import { genericKind, type GenericResource, type Task } from '../../api/index.js';

/** What a node has left: counts by kind and the named items free, by kind. */
export interface GenericPool {
  counts: Map<string, number>;
  named: Map<string, string[]>;
}

export function poolOf(offered: readonly GenericResource[] | undefined): GenericPool {
  const pool: GenericPool = { counts: new Map(), named: new Map() };
  for (const r of offered ?? []) {
    const kind = genericKind(r);
    if (r.DiscreteResourceSpec)
      pool.counts.set(kind, (pool.counts.get(kind) ?? 0) + (r.DiscreteResourceSpec.Value ?? 0));
    else if (r.NamedResourceSpec)
      pool.named.set(kind, [...(pool.named.get(kind) ?? []), r.NamedResourceSpec.Value ?? '']);
  }
  return pool;
}

export function requestsOf(t: Task): readonly GenericResource[] {
  return t.Spec.Resources?.Reservations?.GenericResources ?? [];
}

/** Whether the pool meets every request; a request for named items is never met (as in Swarm). */
export function fits(pool: GenericPool, requests: readonly GenericResource[]): boolean {
  return requests.every((r) => {
    const want = r.DiscreteResourceSpec;
    if (!want) return false;
    const kind = want.Kind ?? '';
    const value = want.Value ?? 0;
    if (pool.counts.has(kind)) return value <= pool.counts.get(kind)!;
    const named = pool.named.get(kind);
    return named !== undefined && named.length > 0 && value <= named.length;
  });
}

/** Takes what the requests ask for out of the pool; returns what the task is given. */
export function claim(pool: GenericPool, requests: readonly GenericResource[]): GenericResource[] {
  const given: GenericResource[] = [];
  for (const r of requests) {
    const want = r.DiscreteResourceSpec;
    if (!want || !want.Value) continue;
    const kind = want.Kind ?? '';
    if (pool.counts.has(kind)) {
      pool.counts.set(kind, pool.counts.get(kind)! - want.Value);
      given.push({ DiscreteResourceSpec: { Kind: kind, Value: want.Value } });
      continue;
    }
    const named = pool.named.get(kind) ?? [];
    for (const v of named.splice(0, want.Value)) given.push({ NamedResourceSpec: { Kind: kind, Value: v } });
  }
  return given;
}

/** Takes out of the pool what a placed task holds: the items it was given, else what it asked for. */
export function hold(pool: GenericPool, t: Task): void {
  if (!t.GenericResources) {
    claim(pool, requestsOf(t));
    return;
  }
  for (const r of t.GenericResources) {
    const kind = genericKind(r);
    if (r.DiscreteResourceSpec && pool.counts.has(kind)) {
      pool.counts.set(kind, pool.counts.get(kind)! - (r.DiscreteResourceSpec.Value ?? 0));
    } else if (r.NamedResourceSpec) {
      const named = pool.named.get(kind);
      const i = named?.indexOf(r.NamedResourceSpec.Value ?? '') ?? -1;
      if (i >= 0) named!.splice(i, 1);
    }
  }
}
