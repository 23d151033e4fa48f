// Generic resources as dockerd takes them (`--node-generic-resource gpu=2`, daemon.json
// `node-generic-resources`): a kind given once with an integer is a count, a kind given with
// names is a set of discrete named items (`gpu=GPU-a`, `gpu=GPU-b`).
import { invalidArgument } from './errors.js';
import type { GenericResource } from './types.js';

const INTEGER = /^[+-]?\d+$/;

export function genericKind(r: GenericResource): string {
  return r.DiscreteResourceSpec?.Kind ?? r.NamedResourceSpec?.Kind ?? '';
}

/** Parses `kind=value` terms; the errors name the term, as dockerd's do. */
export function parseGenericResources(terms: readonly string[]): GenericResource[] {
  const byKind = new Map<string, string[]>();
  for (const term of terms) {
    const parts = term.split('=');
    if (parts.length !== 2)
      throw invalidArgument(
        `could not parse GenericResource: incorrect term ${term}, missing '=' or malformed expression`,
      );
    const kind = parts[0]!.trim();
    byKind.set(kind, [...(byKind.get(kind) ?? []), parts[1]!.trim()]);
  }
  const out: GenericResource[] = [];
  for (const [kind, values] of byKind) {
    const numeric = values.filter((v) => INTEGER.test(v));
    if (values.length === 1 && numeric.length === 1) {
      const n = Number(values[0]);
      if (n < 0)
        throw invalidArgument(`could not parse GenericResource: cannot ask for negative resource ${kind}`);
      if (!Number.isSafeInteger(n))
        throw invalidArgument(`could not parse GenericResource: ${kind} is too large`);
      out.push({ DiscreteResourceSpec: { Kind: kind, Value: n } });
    } else if (numeric.length === 0) {
      for (const v of values) out.push({ NamedResourceSpec: { Kind: kind, Value: v } });
    } else {
      throw invalidArgument(
        `could not parse GenericResource: mixed discrete and named resources in expression '${kind}=[${values.join(' ')}]'`,
      );
    }
  }
  return out;
}

/**
 * The environment Swarm gives a task for the generic resources it was assigned, one variable a
 * kind, upper-cased: `DOCKER_RESOURCE_GPU=GPU-a,GPU-b` for named items, `DOCKER_RESOURCE_GPU=2` for
 * a count. Kinds in sorted order, so a task's container config does not depend on map order.
 */
export function genericResourceEnv(assigned: readonly GenericResource[] | undefined): string[] {
  const byKind = new Map<string, string[]>();
  for (const r of assigned ?? []) {
    const value = r.DiscreteResourceSpec ? String(r.DiscreteResourceSpec.Value) : r.NamedResourceSpec?.Value;
    if (value === undefined) continue;
    const kind = genericKind(r);
    byKind.set(kind, [...(byKind.get(kind) ?? []), value]);
  }
  return [...byKind.keys()]
    .sort()
    .map((k) => `DOCKER_RESOURCE_${k.toUpperCase()}=${byKind.get(k)!.join(',')}`);
}
