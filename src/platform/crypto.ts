// Record encryption for data at rest. Sealed format: [version u8][nonce 12][GCM tag 16][ciphertext].
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + NONCE_BYTES + TAG_BYTES;
/** Bytes sealed between yields by sealInSlices (a few ms of AES-GCM here). */
const SEAL_SLICE = 4 * 1024 * 1024;

export interface RecordCipher {
  seal(plain: Uint8Array): Buffer;
  /**
   * The same sealed format as seal() over the concatenation of `parts`, returned as pieces to
   * write in order, encrypted a few MiB at a time with the event loop free in between: a snapshot
   * of a large store is tens of MiB, and sealing it in one call blocks a manager for 0.1-0.3 s.
   */
  sealInSlices(parts: readonly Uint8Array[]): Promise<Buffer[]>;
  /** Throws DecryptError when the data was sealed under another key, was altered, or is not sealed. */
  open(sealed: Uint8Array): Buffer;
}

export class DecryptError extends Error {
  /** `not-sealed`: the data is not in the sealed format at all; `auth`: wrong key or altered data. */
  readonly reason: 'not-sealed' | 'auth';
  constructor(reason: 'not-sealed' | 'auth', message: string) {
    super(message);
    this.reason = reason;
    this.name = 'DecryptError';
  }
}

/** A fresh random 32-byte key. */
export function randomKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Whether data has the sealed format's header (plain JSON, starting with `{`, never does). */
export function isSealed(data: Uint8Array): boolean {
  return data.length >= HEADER && data[0] === VERSION;
}

/** AES-256-GCM with a random 96-bit nonce per record (random nonces bound a key to about 2^32 records). */
export function aesGcmCipher(key: Uint8Array): RecordCipher {
  if (key.length !== KEY_BYTES)
    throw new RangeError(`AES-256-GCM needs a ${KEY_BYTES}-byte key, got ${key.length}`);
  const k = Buffer.from(key); // a copy: the caller may reuse or wipe its buffer
  return {
    seal(plain) {
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv('aes-256-gcm', k, nonce);
      const body = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([Buffer.of(VERSION), nonce, c.getAuthTag(), body]);
    },
    async sealInSlices(parts) {
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv('aes-256-gcm', k, nonce);
      const out: Buffer[] = [];
      for (const p of parts) {
        for (let off = 0; off < p.byteLength; off += SEAL_SLICE) {
          if (out.length > 0) await new Promise<void>((r) => setImmediate(r));
          out.push(c.update(p.subarray(off, Math.min(p.byteLength, off + SEAL_SLICE))));
        }
      }
      out.push(c.final());
      return [Buffer.concat([Buffer.of(VERSION), nonce, c.getAuthTag()]), ...out];
    },
    open(sealed) {
      if (!isSealed(sealed)) {
        throw new DecryptError('not-sealed', 'data is not encrypted (no sealed-record header)');
      }
      const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      const d = createDecipheriv('aes-256-gcm', k, buf.subarray(1, 1 + NONCE_BYTES));
      d.setAuthTag(buf.subarray(1 + NONCE_BYTES, HEADER));
      try {
        return Buffer.concat([d.update(buf.subarray(HEADER)), d.final()]);
      } catch {
        throw new DecryptError('auth', 'decryption failed: wrong key or tampered data');
      }
    },
  };
}
