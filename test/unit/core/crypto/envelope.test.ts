import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Binding, DATA_KEY_BYTES, open, seal } from '../../../../lambdas/core/crypto/envelope.ts';
import { DecryptionFailureError } from '../../../../lambdas/core/errors.ts';

const binding: Binding = { secretId: 'arn:aws:secretsmanager:local:000000000000:secret:db-AbCdEf', versionId: 'v1' };

function withByteFlipped(blob: string, index: number): string {
  const raw = Buffer.from(blob, 'base64');
  raw[index] = raw[index]! ^ 0x01;
  return raw.toString('base64');
}

describe('Module: envelope', () => {
  it('round-trips a UTF-8 string', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const plaintext = Buffer.from('pässwörd 🔑', 'utf8');
    expect(open(key, seal(key, plaintext, binding), binding).toString('utf8')).toBe('pässwörd 🔑');
  });

  it('round-trips binary values, empty and 64 KiB', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    for (const plaintext of [Buffer.alloc(0), randomBytes(64 * 1024), Buffer.from([0, 255, 0, 1])]) {
      expect(open(key, seal(key, plaintext, binding), binding).equals(plaintext)).toBe(true);
    }
  });

  it('produces a different ciphertext each time for the same value (random IV)', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const plaintext = Buffer.from('same value');
    const first = seal(key, plaintext, binding).blob;
    const second = seal(key, plaintext, binding).blob;
    expect(first).not.toBe(second);
    expect(Buffer.from(first, 'base64').subarray(0, 12).equals(Buffer.from(second, 'base64').subarray(0, 12))).toBe(
      false,
    );
  });

  it('does not contain the plaintext in the sealed blob', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const plaintext = Buffer.from('hunter2-hunter2-hunter2');
    const raw = Buffer.from(seal(key, plaintext, binding).blob, 'base64');
    expect(raw.includes(plaintext)).toBe(false);
  });

  it('fails with DecryptionFailureError when sealed blobs are swapped between two bindings', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const a: Binding = { secretId: 'secret-a', versionId: 'v1' };
    const b: Binding = { secretId: 'secret-b', versionId: 'v1' };
    const c: Binding = { secretId: 'secret-a', versionId: 'v2' };
    const sealedA = seal(key, Buffer.from('value a'), a);
    const sealedB = seal(key, Buffer.from('value b'), b);
    expect(() => open(key, sealedA, b)).toThrow(DecryptionFailureError);
    expect(() => open(key, sealedB, a)).toThrow(DecryptionFailureError);
    expect(() => open(key, sealedA, c)).toThrow(DecryptionFailureError);
  });

  it('does not confuse bindings whose concatenated ids are equal', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const sealed = seal(key, Buffer.from('value'), { secretId: 'a/b', versionId: 'c' });
    expect(() => open(key, sealed, { secretId: 'a', versionId: 'b/c' })).toThrow(DecryptionFailureError);
  });

  it('fails with DecryptionFailureError when any byte of the blob is flipped', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const sealed = seal(key, Buffer.from('a secret value'), binding);
    const length = Buffer.from(sealed.blob, 'base64').length;
    for (let index = 0; index < length; index++) {
      expect(() => open(key, { blob: withByteFlipped(sealed.blob, index) }, binding)).toThrow(DecryptionFailureError);
    }
  });

  it('fails with DecryptionFailureError when the blob is truncated', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const raw = Buffer.from(seal(key, Buffer.from('a secret value'), binding).blob, 'base64');
    for (const length of [0, 11, 27, raw.length - 1]) {
      const blob = raw.subarray(0, length).toString('base64');
      expect(() => open(key, { blob }, binding)).toThrow(DecryptionFailureError);
    }
  });

  it('fails with DecryptionFailureError under the wrong data key', () => {
    const sealed = seal(randomBytes(DATA_KEY_BYTES), Buffer.from('a secret value'), binding);
    expect(() => open(randomBytes(DATA_KEY_BYTES), sealed, binding)).toThrow(DecryptionFailureError);
  });

  it('does not reveal the plaintext in the failure message', () => {
    const key = randomBytes(DATA_KEY_BYTES);
    const sealed = seal(key, Buffer.from('top-secret-value'), binding);
    let message = '';
    try {
      open(key, sealed, { ...binding, versionId: 'v2' });
    } catch (err) {
      message = String(err) + String((err as Error).cause);
    }
    expect(message).toContain('DecryptionFailureError');
    expect(message).not.toContain('top-secret-value');
  });

  it('refuses a data key that is not 32 bytes', () => {
    for (const length of [0, 16, 31, 33]) {
      expect(() => seal(Buffer.alloc(length), Buffer.from('x'), binding)).toThrow(RangeError);
    }
  });
});
