import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionFailureError } from '../../../../lambdas/core/errors.ts';
import type { VersionRecord } from '../../../../lambdas/core/secrets/secret-types.ts';
import { allItems, bin, setup, str } from './fixtures.ts';

describe('Class: SecretService', () => {
  describe('sealing', () => {
    it('fails to decrypt a ciphertext moved to another version', async () => {
      const { secrets, store } = setup();
      const { arn, versionId: v1 } = await secrets.create({ name: 's', value: str('one') });
      const { versionId: v2 } = await secrets.put({ secretId: 's', value: str('two') });
      const pk = `secret-versions#${arn}`;
      const a = await store.get<VersionRecord>(pk, v1!);
      const b = await store.get<VersionRecord>(pk, v2);
      await store.transact([
        { type: 'put', pk, sk: v2, data: { ...b!.data, sealed: a!.data.sealed, wrappedKey: a!.data.wrappedKey } },
      ]);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(DecryptionFailureError);
      // Swapping only the ciphertext fails too: it is not sealed under this version's data key.
      await store.transact([{ type: 'put', pk, sk: v2, data: { ...b!.data, sealed: a!.data.sealed } }]);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(DecryptionFailureError);
    });

    it('gives every version its own data key', async () => {
      const { secrets, keys } = setup();
      await secrets.create({ name: 's', value: str('one') });
      await secrets.put({ secretId: 's', value: str('two') });
      expect(keys.calls.generate).toBe(2);
    });

    it('reads a value with two store reads and one unwrap', async () => {
      const { secrets, store, keys } = setup();
      await secrets.create({ name: 's', value: str('one') });
      let reads = 0;
      const get = store.get.bind(store);
      store.get = (pk, sk) => {
        reads++;
        return get(pk, sk);
      };
      const query = store.query.bind(store);
      store.query = (pk, options) => {
        reads += 100;
        return query(pk, options);
      };
      const unwrapsBefore = keys.calls.unwrap;
      await secrets.get({ secretId: 's' });
      expect(reads).toBe(2);
      expect(keys.calls.unwrap - unwrapsBefore).toBe(1);
    });

    it('never stores the plaintext of a value', async () => {
      const { secrets, store } = setup();
      const canary = `CANARY-${randomBytes(12).toString('hex')}`;
      const binaryCanary = randomBytes(48);
      await secrets.create({ name: 'c/string', value: str(canary), description: 'no value here' });
      await secrets.put({ secretId: 'c/string', value: str(`${canary}-2`) });
      await secrets.create({ name: 'c/binary', value: bin(binaryCanary) });
      const serialized = JSON.stringify(allItems(store));
      expect(serialized).toContain('c/string');
      for (const needle of [
        canary,
        Buffer.from(canary).toString('base64').slice(0, 16),
        binaryCanary.toString('base64').slice(0, 16),
        binaryCanary.toString('hex').slice(0, 16),
      ]) {
        expect(serialized).not.toContain(needle);
      }
    });

    it('never puts a value in an error message', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('first-secret'), clientRequestToken: 'a'.repeat(36) });
      const err = await secrets
        .put({ secretId: 's', value: str('second-secret'), clientRequestToken: 'a'.repeat(36) })
        .catch((e: unknown) => e);
      expect(String((err as Error).message)).not.toMatch(/secret-|first|second/);
      const tooBig = await secrets
        .put({ secretId: 's', value: str(`leak${'x'.repeat(65_536)}`) })
        .catch((e: unknown) => e);
      expect((tooBig as Error).message).toMatch(/65536 bytes/);
      expect((tooBig as Error).message).not.toContain('leak');
    });
  });

  describe('rewrapAll', () => {
    it('re-wraps every data key made by an old root key, so the old key can be retired', async () => {
      const { secrets, keys, store } = setup();
      const oldKey = keys.describe().keyId;
      await secrets.create({ name: 'a', value: str('a1') });
      const { versionId: a2 } = await secrets.put({ secretId: 'a', value: str('a2') });
      await secrets.create({ name: 'b/c', value: bin(Buffer.from([1, 2, 3])) });
      await secrets.create({ name: 'pending', value: str('p') });
      await secrets.delete({ secretId: 'pending' });
      keys.rotate();
      await secrets.create({ name: 'fresh', value: str('f') });

      expect(await secrets.rewrapAll()).toEqual({ rewrapped: 4 });
      expect(await secrets.rewrapAll()).toEqual({ rewrapped: 0 });
      keys.retire(oldKey);

      expect((await secrets.get({ secretId: 'a' })).value).toEqual(str('a2'));
      expect((await secrets.get({ secretId: 'a', versionStage: 'AWSPREVIOUS' })).value).toEqual(str('a1'));
      expect((await secrets.get({ secretId: 'b/c' })).value).toEqual(bin(Buffer.from([1, 2, 3])));
      expect((await secrets.get({ secretId: 'fresh' })).value).toEqual(str('f'));
      await secrets.restore({ secretId: 'pending' });
      expect((await secrets.get({ secretId: 'pending' })).value).toEqual(str('p'));
      const item = await store.get<VersionRecord>(
        `secret-versions#${(await secrets.describe({ secretId: 'a' })).arn}`,
        a2,
      );
      expect(keys.isCurrent(item!.data.wrappedKey)).toBe(true);
    });

    it('leaves data keys unreadable after retiring a key that was not re-wrapped', async () => {
      const { secrets, keys } = setup();
      const oldKey = keys.describe().keyId;
      await secrets.create({ name: 'a', value: str('a1') });
      keys.rotate();
      keys.retire(oldKey);
      await expect(secrets.get({ secretId: 'a' })).rejects.toThrow(DecryptionFailureError);
    });
  });
});
