import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptionFailureError } from '../errors.ts';

/**
 * AES-256-GCM sealing of one secret version under its own data key.
 *
 * The associated data binds the ciphertext to the secret and version it belongs to: moving a ciphertext to another
 * record makes authentication fail, even though the bytes are intact.
 */
export const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealedValue {
  /** base64: iv (12) || ciphertext || tag (16). */
  readonly blob: string;
}

export interface Binding {
  readonly secretId: string;
  readonly versionId: string;
}

function associatedData(binding: Binding): Buffer {
  // Length-prefixed so that ("a/b", "c") and ("a", "b/c") can never produce the same bytes.
  return Buffer.from(JSON.stringify(['coffer.v1', binding.secretId, binding.versionId]), 'utf8');
}

export function seal(dataKey: Buffer, plaintext: Buffer, binding: Binding): SealedValue {
  if (dataKey.length !== DATA_KEY_BYTES) throw new RangeError('data key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(binding));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { blob: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64') };
}

export function open(dataKey: Buffer, sealed: SealedValue, binding: Binding): Buffer {
  const raw = Buffer.from(sealed.blob, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new DecryptionFailureError('ciphertext is truncated');
  const iv = raw.subarray(0, IV_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const body = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(binding));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (cause) {
    throw new DecryptionFailureError('ciphertext failed authentication', { cause });
  }
}
