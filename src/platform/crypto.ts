// Record encryption for data at rest. Sealed format: [version u8][nonce 12][GCM tag 16][ciphertext].
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + NONCE_BYTES + TAG_BYTES;

export interface RecordCipher {
  seal(plain: Uint8Array): Buffer;
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
