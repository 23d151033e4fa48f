// Parsing of docker-style flag values: durations, byte sizes, key=value lists, mounts, ports.

/** Commander's accumulator for a repeatable flag. */
export const collect = (v: string, acc: string[]): string[] => [...acc, v];

export function integer(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`invalid ${what} "${v}": must be an integer`);
  return n;
}

export function parseDuration(v: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    matched += m[0];
  }
  if (v === '0') return 0;
  if (matched !== v || matched === '')
    throw new Error(`invalid duration "${v}": use a number with a unit, like 10s, 500ms or 1m30s`);
  return Math.round(total);
}

export function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new Error(`invalid size "${v}": use a number with an optional unit, like 512m or 1g`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

export function parseCpus(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`invalid CPU value "${v}"`);
  return Math.round(n * 1e9);
}

export function keyValues(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 0) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export function parseMount(v: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  for (const part of v.split(',')) {
    const [k = '', val = 'true'] = part.split('=');
    switch (k) {
      case 'type':
        m.Type = val;
        break;
      case 'source':
      case 'src':
        m.Source = val;
        break;
      case 'target':
      case 'destination':
      case 'dst':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = val !== 'false' && val !== '0';
        break;
      case 'tmpfs-size':
        m.TmpfsOptions = { ...((m.TmpfsOptions as object) ?? {}), SizeBytes: parseBytes(val) };
        break;
      default:
        throw new Error(`unknown mount option "${k}"`);
    }
  }
  return m;
}

export function parsePort(v: string): Record<string, unknown> {
  if (v.includes('=')) {
    const kv = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]));
    return {
      Protocol: kv.protocol ?? 'tcp',
      TargetPort: Number(kv.target),
      ...(kv.published ? { PublishedPort: Number(kv.published) } : {}),
      PublishMode: kv.mode ?? 'ingress',
    };
  }
  const [ports, proto = 'tcp'] = v.split('/');
  const [a, b] = ports!.split(':');
  return b === undefined
    ? { Protocol: proto, TargetPort: Number(a), PublishMode: 'ingress' }
    : { Protocol: proto, PublishedPort: Number(a), TargetPort: Number(b), PublishMode: 'ingress' };
}

/**
 * `--secret src` or `--secret source=src,target=t,uid=0,gid=0,mode=0400`, as the docker CLI
 * takes it. The daemon resolves the name to the object.
 */
export function parseFileReference(v: string, kind: 'secret' | 'config'): Record<string, unknown> {
  const o: Record<string, string> = {};
  if (!v.includes('=')) o.source = v;
  else
    for (const part of v.split(',')) {
      const [k = '', val = ''] = part.split('=');
      if (!['source', 'src', 'target', 'uid', 'gid', 'mode'].includes(k))
        throw new Error(`unknown ${kind} option "${k}"`);
      o[k === 'src' ? 'source' : k] = val;
    }
  if (!o.source) throw new Error(`--${kind} needs a source`);
  const mode = o.mode !== undefined ? Number.parseInt(o.mode, 8) : 0o444;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
    throw new Error(`invalid ${kind} mode "${o.mode}"`);
  return {
    [kind === 'secret' ? 'SecretName' : 'ConfigName']: o.source,
    File: { Name: o.target ?? o.source, UID: o.uid ?? '0', GID: o.gid ?? '0', Mode: mode },
  };
}
