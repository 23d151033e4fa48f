// Secrets and configs: lookup as Docker's daemon resolves them, list filters as swarmkit applies
// them, and the service references to them (resolved, defaulted, checked) made at service
// create and update.
import { timingSafeEqual } from 'node:crypto';
import {
  badParameter,
  invalidArgument,
  notFound,
  type FileTarget,
  type Filters,
  type Secret,
  type ServiceSpec,
} from '../../api/index.js';
import type { ReadTx } from '../../state/index.js';

export type ObjectTable = 'secrets' | 'configs';

export const KIND: Record<ObjectTable, 'secret' | 'config'> = { secrets: 'secret', configs: 'config' };
const REF_KEYS = {
  secrets: ['SecretID', 'SecretName'],
  configs: ['ConfigID', 'ConfigName'],
} as const;

/** A full ID, then an exact name, then a unique ID prefix (Docker's getSecret/getConfig). */
export function findObject(tx: ReadTx, table: ObjectTable, ref: string): Secret {
  const kind = KIND[table];
  const exact = tx.get(table, ref) ?? tx.byName(table, ref);
  if (exact) return exact;
  const matches = ref === '' ? [] : tx.all(table).filter((o) => o.ID.startsWith(ref));
  if (matches.length > 1) throw badParameter(`${kind} ${ref} is ambiguous (${matches.length} matches found)`);
  if (!matches[0]) throw notFound(`${kind} ${ref} not found`);
  return matches[0];
}

/** Swarm never hands a secret's data back. */
export function redact(s: Secret): Secret {
  const { Data: _data, ...spec } = s.Spec;
  return { ...s, Spec: spec };
}

const byCreation = (a: Secret, b: Secret): number =>
  a.CreatedAt < b.CreatedAt ? -1 : a.CreatedAt > b.CreatedAt ? 1 : a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;

/**
 * `names` (exact), `name` (prefix) and `id` (prefix) select objects matching any of them; every
 * `label` (`key` or `key=value`) must then match too.
 */
export function listObjects(tx: ReadTx, table: ObjectTable, f: Filters): Secret[] {
  for (const k of f.keys())
    if (!['names', 'name', 'id', 'label'].includes(k)) throw badParameter(`invalid filter '${k}'`);
  const names = f.get('names') ?? [];
  const prefixes = f.get('name') ?? [];
  const ids = f.get('id') ?? [];
  const labels = (f.get('label') ?? []).map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  });
  const keyed = names.length + prefixes.length + ids.length > 0;
  return tx
    .all(table)
    .filter((o) => {
      if (
        keyed &&
        !names.includes(o.Spec.Name) &&
        !prefixes.some((p) => o.Spec.Name.startsWith(p)) &&
        !ids.some((p) => o.ID.startsWith(p))
      )
        return false;
      return labels.every(([k, v]) => {
        const have = o.Spec.Labels?.[k!];
        return have !== undefined && (v === '' || have === v);
      });
    })
    .sort(byCreation);
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** IDs of the objects a service spec references. */
export function referencedIds(spec: ServiceSpec, table: ObjectTable): string[] {
  const cs = spec.TaskTemplate?.ContainerSpec;
  return table === 'secrets'
    ? (cs?.Secrets ?? []).map((r) => r.SecretID)
    : (cs?.Configs ?? []).map((r) => r.ConfigID);
}

type LooseRef = { File?: Partial<FileTarget>; Runtime?: unknown } & Record<string, unknown>;

function resolveRefs(tx: ReadTx, table: ObjectTable, refs: readonly LooseRef[]): void {
  const kind = KIND[table];
  const [idKey, nameKey] = REF_KEYS[table];
  const missing: string[] = [];
  const targets = new Map<string, string>();
  for (const ref of refs) {
    const id = (ref[idKey] as string | undefined) ?? '';
    const name = (ref[nameKey] as string | undefined) ?? '';
    if (id === '' && name === '') throw invalidArgument(`malformed ${kind} reference`);
    // The docker CLI sends both the ID and the name; a client may give only one of them.
    const obj = id !== '' ? tx.get(table, id) : tx.byName(table, name);
    if (!obj || (name !== '' && obj.Spec.Name !== name)) {
      missing.push(name || id);
      continue;
    }
    ref[idKey] = obj.ID;
    ref[nameKey] = obj.Spec.Name;
    if (table === 'configs' && ref.Runtime !== undefined && !ref.File) continue;
    // Defaults the docker CLI fills in: the object's name as the file, root-owned, 0444.
    const file = (ref.File ??= {});
    if (!file.Name) file.Name = obj.Spec.Name;
    file.UID ??= '0';
    file.GID ??= '0';
    file.Mode ??= 0o444;
    if (file.Mode < 0 || file.Mode > 0o7777) {
      throw invalidArgument(`invalid file mode ${file.Mode} for ${kind} '${obj.Spec.Name}'`);
    }
    const prev = targets.get(file.Name);
    if (prev !== undefined) {
      throw invalidArgument(
        `${kind} references '${prev}' and '${obj.Spec.Name}' have a conflicting target: '${file.Name}'`,
      );
    }
    targets.set(file.Name, obj.Spec.Name);
  }
  if (missing.length > 0) {
    throw invalidArgument(`${kind}${missing.length > 1 ? 's' : ''} not found: ${missing.join(', ')}`);
  }
}

/** Resolves a service's secret and config references in place, or refuses them as swarmkit does. */
export function resolveObjectRefs(tx: ReadTx, spec: ServiceSpec): void {
  const cs = spec.TaskTemplate?.ContainerSpec;
  if (cs?.Secrets) resolveRefs(tx, 'secrets', cs.Secrets as unknown as LooseRef[]);
  if (cs?.Configs) resolveRefs(tx, 'configs', cs.Configs as unknown as LooseRef[]);
}
