import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecryptionFailureError } from '../../lambdas/core/errors.ts';
import type { EncryptionContext, KeyProvider } from '../../lambdas/core/ports/key-provider.ts';

/** What a contract run needs from an adapter: a fresh provider, and how to tidy up after it. */
export type KeyProviderFactory = () => Promise<{ provider: KeyProvider; cleanup?: () => Promise<void> }>;

const context: EncryptionContext = {
  secretId: 'arn:aws:secretsmanager:local:000000000000:secret:db-AbCdEf',
  versionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
};

/** Replaces one character with another one of the same kind, so the result still parses but its bytes differ. */
function replaceCharAt(text: string, index: number): string {
  const current = text[index];
  const replacement = current === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

async function captureError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/**
 * The behaviour every {@link KeyProvider} adapter must share (the local file keyring, AWS KMS): round trips,
 * encryption-context binding, tamper detection and re-wrapping. Call it from an adapter's test file.
 *
 * @example
 * ```ts
 * describeKeyProviderContract('FileKeyring', async () => {
 *   const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
 *   const provider = await FileKeyring.init({ path: path.join(dir, 'keyring.json') });
 *   return { provider, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
 * });
 * ```
 */
export function describeKeyProviderContract(name: string, factory: KeyProviderFactory): void {
  describe(`Contract: KeyProvider (${name})`, () => {
    let provider: KeyProvider;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ provider, cleanup } = await factory());
    });

    afterEach(async () => {
      await cleanup?.();
    });

    it('generates a fresh 32-byte data key each time, and a wrapped form that does not contain it', async () => {
      const first = await provider.generateDataKey(context);
      const second = await provider.generateDataKey(context);
      expect(first.plaintext.length).toBe(32);
      expect(first.plaintext.equals(second.plaintext)).toBe(false);
      expect(first.wrapped).not.toBe(second.wrapped);
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        expect(first.wrapped).not.toContain(first.plaintext.toString(encoding));
      }
    });

    it('unwraps a generated data key to the same bytes', async () => {
      const { plaintext, wrapped } = await provider.generateDataKey(context);
      const unwrapped = await provider.unwrapDataKey(wrapped, context);
      expect(unwrapped.equals(plaintext)).toBe(true);
    });

    it('unwraps with the same context given in another key order', async () => {
      const { plaintext, wrapped } = await provider.generateDataKey(context);
      const reordered = { versionId: context.versionId!, secretId: context.secretId! };
      expect((await provider.unwrapDataKey(wrapped, reordered)).equals(plaintext)).toBe(true);
    });

    it('round-trips an empty context', async () => {
      const { plaintext, wrapped } = await provider.generateDataKey({});
      expect((await provider.unwrapDataKey(wrapped, {})).equals(plaintext)).toBe(true);
    });

    it('fails with DecryptionFailureError when a context value differs', async () => {
      const { wrapped } = await provider.generateDataKey(context);
      await expect(provider.unwrapDataKey(wrapped, { ...context, versionId: 'other' })).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
      await expect(provider.unwrapDataKey(wrapped, { ...context, secretId: 'other' })).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
    });

    it('fails with DecryptionFailureError when a context key is missing', async () => {
      const { wrapped } = await provider.generateDataKey(context);
      await expect(provider.unwrapDataKey(wrapped, { secretId: context.secretId! })).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
      await expect(provider.unwrapDataKey(wrapped, {})).rejects.toBeInstanceOf(DecryptionFailureError);
    });

    it('fails with DecryptionFailureError when the context has an extra key', async () => {
      const { wrapped } = await provider.generateDataKey(context);
      await expect(provider.unwrapDataKey(wrapped, { ...context, extra: '' })).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
    });

    it('fails with DecryptionFailureError when the wrapped key was tampered with', async () => {
      const { wrapped } = await provider.generateDataKey(context);
      const positions = [Math.floor(wrapped.length / 2), Math.floor((wrapped.length * 3) / 4), wrapped.length - 8];
      for (const position of positions) {
        await expect(provider.unwrapDataKey(replaceCharAt(wrapped, position), context)).rejects.toBeInstanceOf(
          DecryptionFailureError,
        );
      }
      await expect(provider.unwrapDataKey(wrapped.slice(0, -8), context)).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
      await expect(provider.unwrapDataKey('', context)).rejects.toBeInstanceOf(DecryptionFailureError);
      await expect(provider.unwrapDataKey('not a wrapped key', context)).rejects.toBeInstanceOf(DecryptionFailureError);
    });

    it('does not put key material in the failure', async () => {
      const { plaintext, wrapped } = await provider.generateDataKey(context);
      const err = await captureError(provider.unwrapDataKey(wrapped, { ...context, versionId: 'other' }));
      expect(err).toBeInstanceOf(DecryptionFailureError);
      const text = `${String(err)} ${JSON.stringify((err as DecryptionFailureError).details ?? {})}`;
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        expect(text).not.toContain(plaintext.toString(encoding));
      }
    });

    it('re-wraps a data key to a wrapped form that unwraps to the same bytes, bound to the same context', async () => {
      const { plaintext, wrapped } = await provider.generateDataKey(context);
      const rewrapped = await provider.rewrapDataKey(wrapped, context);
      expect((await provider.unwrapDataKey(rewrapped, context)).equals(plaintext)).toBe(true);
      await expect(provider.unwrapDataKey(rewrapped, { ...context, versionId: 'other' })).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
    });

    it('refuses to re-wrap under the wrong context', async () => {
      const { wrapped } = await provider.generateDataKey(context);
      await expect(provider.rewrapDataKey(wrapped, { ...context, versionId: 'other' })).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
    });

    it('reports generated and re-wrapped keys as current, and garbage as not', async () => {
      const { wrapped } = await provider.generateDataKey(context);
      expect(provider.isCurrent(wrapped)).toBe(true);
      expect(provider.isCurrent(await provider.rewrapDataKey(wrapped, context))).toBe(true);
      expect(provider.isCurrent('')).toBe(false);
      expect(provider.isCurrent('not a wrapped key')).toBe(false);
    });

    it('describes itself by provider and key id', () => {
      const { provider: kind, keyId } = provider.describe();
      expect(kind.length).toBeGreaterThan(0);
      expect(keyId.length).toBeGreaterThan(0);
    });
  });
}
