// What this machine's kernel can carry for the data plane. Encrypted overlays (`-o encrypted`) are
// IPsec ESP in transport mode with AES-GCM between nodes, as Swarm's: a kernel without ESP, GCM or
// the xfrm netlink interface cannot carry them, and shoal refuses them clearly instead of sending
// an encrypted network's traffic in the clear. The answer is computed once per process.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

/** The kernel options an encrypted overlay needs (xfrm over netlink, ESP, AES-GCM). */
export const ENCRYPTION_CONFIG = [
  'CONFIG_XFRM',
  'CONFIG_XFRM_USER',
  'CONFIG_INET_ESP',
  'CONFIG_CRYPTO_GCM',
] as const;

export type EncryptionSupport = { ok: true } | { ok: false; missing: string[] };

/** The options of `ENCRYPTION_CONFIG` that a kernel config (`/proc/config.gz` as text) lacks. */
export function missingFromConfig(configText: string): string[] {
  const set = new Set<string>();
  for (const line of configText.split('\n')) {
    const m = /^(CONFIG_[A-Z0-9_]+)=([ym])\s*$/.exec(line);
    if (m) set.add(m[1]!);
  }
  return ENCRYPTION_CONFIG.filter((c) => !set.has(c));
}

const PROBE_TIMEOUT_MS = 5000;

function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: PROBE_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}${err && !stderr ? err.message : ''}`.trim() }),
    );
  });
}

/**
 * Without /proc/config.gz: adds an ESP state with rfc4106(gcm(aes)) in a throwaway network
 * namespace (never the host's) and reads what the kernel says. The namespace goes either way.
 */
export async function probeEncryption(netns: string): Promise<EncryptionSupport> {
  const made = await run('ip', ['netns', 'add', netns]);
  if (!made.ok) return { ok: false, missing: [`(the xfrm probe could not run: ${made.out})`] };
  try {
    const add = await run('ip', [
      '-n',
      netns,
      'xfrm',
      'state',
      'add',
      'src',
      '192.0.2.1',
      'dst',
      '192.0.2.2',
      'proto',
      'esp',
      'spi',
      '0x100',
      'reqid',
      '1',
      'mode',
      'transport',
      'aead',
      'rfc4106(gcm(aes))',
      `0x${'11'.repeat(20)}`,
      '128',
    ]);
    if (add.ok) return { ok: true };
    // The kernel names what it lacks only loosely: the AEAD lookup comes first, then the protocol.
    if (/AEAD algorithm not found/i.test(add.out)) return { ok: false, missing: ['CONFIG_CRYPTO_GCM'] };
    if (/protocol not supported/i.test(add.out)) return { ok: false, missing: ['CONFIG_INET_ESP'] };
    return { ok: false, missing: [`CONFIG_XFRM_USER (ip xfrm: ${add.out})`] };
  } finally {
    await run('ip', ['netns', 'delete', netns]);
  }
}

export interface DetectOptions {
  /** Where the kernel config is read (default /proc/config.gz). */
  configPath?: string;
  /** The throwaway namespace of the probe when there is no config to read. */
  probeNetns?: string;
}

/** Detects, without caching, whether this kernel can carry encrypted overlays. */
export async function detectEncryptionSupport(o: DetectOptions = {}): Promise<EncryptionSupport> {
  let text: string | undefined;
  try {
    text = gunzipSync(await readFile(o.configPath ?? '/proc/config.gz'), {
      maxOutputLength: 16 * 1024 * 1024,
    }).toString('utf8');
  } catch {
    text = undefined;
  }
  if (text === undefined) return probeEncryption(o.probeNetns ?? `shoal-xfrm-${process.pid}`);
  const missing = missingFromConfig(text);
  return missing.length === 0 ? { ok: true } : { ok: false, missing };
}

let cached: Promise<EncryptionSupport> | undefined;
let known: EncryptionSupport | undefined;

/** Whether this kernel can carry encrypted overlays; detected once per process. */
export function encryptionSupport(): Promise<EncryptionSupport> {
  cached ??= detectEncryptionSupport().then(
    (r) => (known = r),
    (e: unknown) => (known = { ok: false, missing: [`(detection failed: ${(e as Error).message})`] }),
  );
  return cached;
}

/** The sentence that refuses an encrypted network, naming what `subject`'s kernel lacks. */
export function encryptionRefusal(missing: readonly string[], subject: string, outcome: string): string {
  return `encrypted overlay networks need IPsec ESP with AES-GCM in the kernel, and ${subject}'s kernel lacks ${missing.join(', ')}; ${outcome}`;
}

/**
 * For the manager's ControlAPI: why this manager refuses `-o encrypted`, or undefined when its
 * kernel can carry it.
 */
export async function encryptedNetworkRefusal(): Promise<string | undefined> {
  const r = await encryptionSupport();
  return r.ok ? undefined : encryptionRefusal(r.missing, 'this manager', 'the network was not created');
}

/**
 * For the node side, synchronously: why this node cannot attach a task to an encrypted network,
 * or undefined when it can. It reads the result `encryptionSupport()` cached (the daemon starts
 * it at startup); until that is known it refuses too (fails closed, so an encrypted network's
 * traffic never goes out in the clear), and the task is retried as any failed task is.
 */
export function encryptionUnsupported(): string | undefined {
  if (!known) {
    void encryptionSupport();
    return "this node has not finished checking its kernel for IPsec ESP with AES-GCM; the task's encrypted network cannot be attached yet";
  }
  return known.ok
    ? undefined
    : encryptionRefusal(known.missing, 'this node', "the task's encrypted network cannot be attached");
}
