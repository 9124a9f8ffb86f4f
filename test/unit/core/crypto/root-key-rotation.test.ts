import { describe, expect, it } from 'vitest';
import {
  type DataKeyHolder,
  type RootKeyring,
  rotateRootKey,
} from '../../../../lambdas/core/crypto/root-key-rotation.ts';
import { ConflictError } from '../../../../lambdas/core/errors.ts';

class Keyring implements RootKeyring {
  keys = ['k1'];
  retired: string[] = [];
  describe() {
    return { keyId: this.keys.at(-1)! };
  }
  async rotate() {
    this.keys.push(`k${this.keys.length + 1}`);
    return this.keys.at(-1)!;
  }
  async retire(keyId: string) {
    this.retired.push(keyId);
  }
}

/** Re-wraps what it was told is left under the old key, pass after pass. */
const holder = (perPass: number[]): DataKeyHolder & { passes: number } => {
  const h = {
    passes: 0,
    async rewrapAll() {
      return { rewrapped: perPass[h.passes++] ?? 0 };
    },
  };
  return h;
};

describe('rotateRootKey', () => {
  it('re-wraps every holder until a later pass finds nothing, then retires the old key and clears the cache', async () => {
    const keyring = new Keyring();
    const secrets = holder([3, 1, 0]);
    const pki = holder([2, 0, 0]);
    let cleared = 0;
    const result = await rotateRootKey({ keyring, holders: [secrets, pki], clearCache: () => cleared++ });
    expect(result).toEqual({ keyId: 'k2', rewrapped: 6, retired: ['k1'] });
    expect(secrets.passes).toBe(3);
    expect(keyring.retired).toEqual(['k1']);
    expect(cleared).toBe(1);
  });

  it('needs a second pass even when the first finds nothing (a late write may still land)', async () => {
    const keyring = new Keyring();
    const only = holder([0, 0]);
    await rotateRootKey({ keyring, holders: [only], clearCache: () => {} });
    expect(only.passes).toBe(2);
  });

  it('keeps the old key when writes keep arriving under it, so nothing becomes unreadable', async () => {
    const keyring = new Keyring();
    let cleared = 0;
    await expect(
      rotateRootKey({ keyring, holders: [holder([1, 1, 1])], clearCache: () => cleared++, maxPasses: 3 }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(keyring.retired).toEqual([]);
    expect(keyring.describe().keyId).toBe('k2');
    expect(cleared).toBe(0);
  });
});
