import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalContext } from '../../lambdas/core/crypto/encryption-context.ts';
import { DecryptionFailureError } from '../../lambdas/core/errors.ts';
import type { EncryptionContext, GeneratedDataKey, KeyProvider } from '../../lambdas/core/ports/key-provider.ts';

/**
 * An in-memory `KeyProvider` for tests: AES-256-GCM wraps data keys under random root keys, with the canonical
 * encryption context as associated data, so a wrong context fails exactly as with the real providers. `rotate`
 * makes a new current root key while old ones still unwrap; `retire` forgets one.
 *
 * Wrapped form: `fake:<keyId>:<base64 iv||ciphertext||tag>`.
 */
export class FakeKeyProvider implements KeyProvider {
  private readonly rootKeys = new Map<string, Buffer>();
  private currentKeyId = '';
  private nextKeyNumber = 1;
  /** How many times each operation ran, for tests that count key-provider calls. */
  readonly calls = { generate: 0, unwrap: 0, rewrap: 0 };

  constructor() {
    this.rotate();
  }

  /** Makes a new root key current and returns its id; earlier keys still unwrap until retired. */
  rotate(): string {
    const keyId = `fake-root-${this.nextKeyNumber++}`;
    this.rootKeys.set(keyId, randomBytes(32));
    this.currentKeyId = keyId;
    return keyId;
  }

  /** Forgets a root key: whatever it wrapped can no longer be unwrapped. */
  retire(keyId: string): void {
    if (keyId === this.currentKeyId) throw new Error('cannot retire the current root key');
    this.rootKeys.delete(keyId);
  }

  describe(): { provider: string; keyId: string } {
    return { provider: 'fake', keyId: this.currentKeyId };
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.calls.generate++;
    const plaintext = randomBytes(32);
    return { plaintext, wrapped: this.wrap(plaintext, context) };
  }

  async unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    this.calls.unwrap++;
    return this.unwrap(wrapped, context);
  }

  async rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string> {
    this.calls.rewrap++;
    return this.wrap(this.unwrap(wrapped, context), context);
  }

  isCurrent(wrapped: string): boolean {
    return wrapped.startsWith(`fake:${this.currentKeyId}:`);
  }

  private wrap(dataKey: Buffer, context: EncryptionContext): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.rootKeys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(canonicalContext(context), 'utf8'));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return `fake:${this.currentKeyId}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64')}`;
  }

  private unwrap(wrapped: string, context: EncryptionContext): Buffer {
    const [tag, keyId, payload] = wrapped.split(':');
    const rootKey = keyId === undefined ? undefined : this.rootKeys.get(keyId);
    if (tag !== 'fake' || rootKey === undefined || payload === undefined) {
      throw new DecryptionFailureError('wrapped key is malformed or its root key is unknown');
    }
    const raw = Buffer.from(payload, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', rootKey, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(canonicalContext(context), 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch (cause) {
      throw new DecryptionFailureError('wrapped key failed authentication', { cause });
    }
  }
}
