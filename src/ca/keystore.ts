// The manager's data-encryption key (DEK), which seals the WAL and snapshots. Without autolock the
// DEK sits in keys.json as-is (as Swarm does). With autolock only the DEK wrapped by a key-encryption
// key (KEK) is on disk; the KEK is shown once to the user as the unlock key and kept in memory only.
// Its expected failures are ShoalErrors from the 'keys' rows of api/errors.ts (WrongUnlockKey, …).
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ShoalError } from '../api/index.js';
import { aesGcmCipher, DecryptError, randomKey, writeFileDurable } from '../platform/index.js';

const FILE = 'keys.json';
const UNLOCK_KEY_PREFIX = 'SWMKEY-1-';
const KEY_BYTES = 32;

const lockedError = (): ShoalError =>
  new ShoalError(
    'SwarmLocked',
    'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.',
  );

/** keys.json: exactly one of the two fields, base64. */
type KeysFile = { version: 1; dek: string } | { version: 1; wrappedDek: string };

/** Docker's human-readable unlock key: `SWMKEY-1-` and the key in unpadded standard base64. */
export function formatUnlockKey(kek: Uint8Array): string {
  return UNLOCK_KEY_PREFIX + Buffer.from(kek).toString('base64').replace(/=+$/, '');
}

/** A new random unlock key. */
export function newUnlockKey(): string {
  return formatUnlockKey(randomKey());
}

export function parseUnlockKey(s: string): Buffer {
  const body = s.trim();
  if (body.startsWith(UNLOCK_KEY_PREFIX)) {
    const b64 = body.slice(UNLOCK_KEY_PREFIX.length);
    const key = /^[A-Za-z0-9+/]+$/.test(b64) ? Buffer.from(b64, 'base64') : undefined;
    // Re-encoding rejects what Node's lenient decoder would accept (stray bits, wrong length).
    if (key && key.length === KEY_BYTES && formatUnlockKey(key) === body) return key;
  }
  throw new ShoalError('MalformedUnlockKey', 'invalid key string');
}

export class KeyStore {
  #dir: string;
  #file: KeysFile | undefined;
  #dek: Buffer | undefined;
  #kek: Buffer | undefined;
  /** Mutations run one at a time so that memory and keys.json never disagree. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, file: KeysFile | undefined) {
    this.#dir = dir;
    this.#file = file;
    if (file && 'dek' in file) this.#dek = Buffer.from(file.dek, 'base64');
  }

  /** Reads <dir>/keys.json if present; a store with autolock on starts locked. */
  static async open(dir: string): Promise<KeyStore> {
    const path = join(dir, FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new KeyStore(dir, undefined);
      throw e;
    }
    return new KeyStore(dir, parseKeysFile(path, text));
  }

  get exists(): boolean {
    return this.#file !== undefined;
  }
  get autolock(): boolean {
    return this.#file !== undefined && 'wrappedDek' in this.#file;
  }
  get locked(): boolean {
    return this.#file !== undefined && this.#dek === undefined;
  }

  /**
   * A new random DEK, stored unwrapped; autolock wraps it later with the cluster's unlock key
   * (useUnlockKey), the same way on every manager.
   */
  create(): Promise<Buffer> {
    return this.#serial(async () => {
      if (this.#file) throw new ShoalError('KeysExist', `swarm keys already exist in ${this.#dir}`);
      const dek = randomKey();
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await this.#write(dek, undefined);
      this.#dek = dek;
      return Buffer.from(dek);
    });
  }

  /** Unwraps the DEK with the user's unlock key and returns it. */
  unlock(unlockKey: string): Promise<Buffer> {
    return this.#serial(async () => {
      const file = this.#file;
      if (!file || !this.locked || !('wrappedDek' in file)) {
        throw new ShoalError('SwarmNotLocked', 'swarm is not locked');
      }
      const kek = parseUnlockKey(unlockKey);
      let dek: Buffer;
      try {
        dek = aesGcmCipher(kek).open(Buffer.from(file.wrappedDek, 'base64'));
      } catch (e) {
        if (e instanceof DecryptError)
          throw new ShoalError('WrongUnlockKey', 'swarm could not be unlocked: invalid key');
        throw e;
      }
      if (dek.length !== KEY_BYTES)
        throw corrupt(join(this.#dir, FILE), 'the wrapped data key has the wrong length');
      this.#dek = dek;
      this.#kek = kek;
      return Buffer.from(dek);
    });
  }

  dek(): Buffer {
    return Buffer.from(this.#unlockedDek());
  }

  /**
   * Makes `unlockKey` the key that wraps the DEK (autolock on), or stores the DEK unwrapped when
   * undefined (off). Managers share one unlock key, kept in the replicated cluster object.
   */
  useUnlockKey(unlockKey: string | undefined): Promise<void> {
    return this.#serial(async () => {
      const dek = this.#unlockedDek();
      if (unlockKey === this.unlockKey() && (unlockKey !== undefined) === this.autolock) return;
      await this.#write(dek, unlockKey === undefined ? undefined : parseUnlockKey(unlockKey));
    });
  }

  /** The current unlock key, while unlocked with autolock on. */
  unlockKey(): string | undefined {
    return this.autolock && this.#kek ? formatUnlockKey(this.#kek) : undefined;
  }

  #unlockedDek(): Buffer {
    if (!this.#file)
      throw new ShoalError('KeysMissing', `no swarm keys in ${this.#dir}; initialise or join a swarm`);
    if (!this.#dek) throw lockedError();
    return this.#dek;
  }

  /** Writes keys.json durably, then updates memory to match. */
  async #write(dek: Buffer, kek: Buffer | undefined): Promise<void> {
    const file: KeysFile = kek
      ? { version: 1, wrappedDek: aesGcmCipher(kek).seal(dek).toString('base64') }
      : { version: 1, dek: dek.toString('base64') };
    await writeFileDurable(join(this.#dir, FILE), JSON.stringify(file));
    this.#file = file;
    this.#kek = kek;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function corrupt(path: string, why: string): ShoalError {
  return new ShoalError(
    'KeysCorrupt',
    `${path} is not a valid swarm key file: ${why}; it holds the key this manager's state is sealed with: restore it from a backup, or move ${dirname(path)} aside and join the swarm again`,
  );
}

function parseKeysFile(path: string, text: string): KeysFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw corrupt(path, 'not JSON');
  }
  if (typeof v !== 'object' || v === null || (v as { version?: unknown }).version !== 1) {
    throw corrupt(path, 'unknown version');
  }
  const { dek, wrappedDek } = v as { dek?: unknown; wrappedDek?: unknown };
  if (typeof dek === 'string' && wrappedDek === undefined) {
    if (Buffer.from(dek, 'base64').length !== KEY_BYTES)
      throw corrupt(path, 'the data key has the wrong length');
    return { version: 1, dek };
  }
  if (typeof wrappedDek === 'string' && dek === undefined) return { version: 1, wrappedDek };
  throw corrupt(path, 'expected exactly one of "dek" and "wrappedDek"');
}
