import { invalidArgument } from './errors.js';
import type { Node } from './types.js';

// Placement constraints: `<key> == <value>` or `<key> != <value>` (swarmkit's syntax).
export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

const KEY =
  /^(node\.(id|hostname|role|platform\.os|platform\.arch|labels\.[^\s=!]+)|engine\.labels\.[^\s=!]+)$/i;

export function parseConstraints(exprs: readonly string[]): Constraint[] {
  return exprs.map((expr) => {
    const ops = ['==', '!='] as const;
    const found = ops.filter((op) => expr.includes(op));
    if (found.length !== 1) throw invalidArgument('constraint expected one operator from ==, !=');
    const op = found[0]!;
    const [rawKey, rawValue, ...rest] = expr.split(op);
    const key = rawKey!.trim();
    const value = (rawValue ?? '').trim();
    if (rest.length > 0) throw invalidArgument(`constraint "${expr}" has more than one operator`);
    if (!KEY.test(key)) {
      throw invalidArgument(
        `constraint key "${key}" is not supported; use node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>`,
      );
    }
    if (value === '') throw invalidArgument(`constraint "${expr}" has an empty value`);
    return { key, op, value };
  });
}

function nodeValue(node: Node, key: string): string | undefined {
  const k = key.toLowerCase();
  if (k === 'node.id') return node.ID;
  if (k === 'node.hostname') return node.Description.Hostname;
  if (k === 'node.role') return node.Spec.Role;
  if (k === 'node.platform.os') return node.Description.Platform.OS;
  if (k === 'node.platform.arch') return node.Description.Platform.Architecture;
  if (k.startsWith('node.labels.')) return node.Spec.Labels?.[key.slice('node.labels.'.length)];
  if (k.startsWith('engine.labels.'))
    return node.Description.Engine.Labels?.[key.slice('engine.labels.'.length)];
  return undefined;
}

export function matchConstraint(node: Node, c: Constraint): boolean {
  const actual = nodeValue(node, c.key);
  // Swarm compares node.* values case-insensitively except labels, which it compares exactly.
  const caseless = !c.key.toLowerCase().includes('labels.');
  const eq =
    actual !== undefined && (caseless ? actual.toLowerCase() === c.value.toLowerCase() : actual === c.value);
  return c.op === '==' ? eq : !eq;
}
