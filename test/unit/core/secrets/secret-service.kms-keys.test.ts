import { describe, expect, it } from 'vitest';
import { DecryptionFailureError, InvalidRequestError, NotFoundError } from '../../../../lambdas/core/errors.ts';
import { ConditionFailedError } from '../../../../lambdas/core/ports/store.ts';
import type { SecretRecord, VersionRecord } from '../../../../lambdas/core/secrets/secret-types.ts';
import { MemoryKeyRing } from '../../../support/memory-key-ring.ts';
import { setup, str } from './fixtures.ts';

async function withKeys() {
  const keyRing = new MemoryKeyRing();
  const blue = await keyRing.create('blue');
  const green = await keyRing.create('green');
  const world = setup({ keyRing });
  const version = async (arn: string, versionId: string) =>
    (await world.store.get<VersionRecord>(`secret-versions#${arn}`, versionId))!.data;
  return { ...world, keyRing, blue, green, version };
}

describe('Class: SecretService', () => {
  describe('customer keys (kmsKeyId)', () => {
    it('seals every version of a secret under the key it names, and describes it with the key', async () => {
      const { secrets, keyRing, keys, blue, version } = await withKeys();
      const { arn, versionId } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      const { versionId: second } = await secrets.put({ secretId: 's', value: str('two') });
      expect((await version(arn, versionId!)).kmsKeyId).toBe(blue.arn);
      expect((await version(arn, second)).kmsKeyId).toBe(blue.arn);
      expect(keyRing.keys.get(blue.arn)!.provider.calls.generate).toBe(2);
      expect(keys.calls.generate).toBe(0);
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('two'));
      expect((await secrets.describe({ secretId: 's' })).kmsKeyId).toBe(blue.arn);
    });

    it('leaves kmsKeyId out for the default key', async () => {
      const { secrets, store } = await withKeys();
      const { arn, versionId } = await secrets.create({ name: 'plain', value: str('one') });
      expect(await secrets.describe({ secretId: 'plain' })).not.toHaveProperty('kmsKeyId');
      expect((await store.get<VersionRecord>(`secret-versions#${arn}`, versionId!))!.data).not.toHaveProperty(
        'kmsKeyId',
      );
    });

    it('refuses a key the key ring does not have, writing nothing', async () => {
      const { secrets, store } = await withKeys();
      await expect(
        secrets.create({ name: 's', value: str('one'), kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/nope' }),
      ).rejects.toThrow(NotFoundError);
      expect(await store.get<SecretRecord>('secrets', 's')).toBeUndefined();
    });

    it('refuses a new value when the key the secret names is gone, as an invalid request', async () => {
      const { secrets, keyRing, blue } = await withKeys();
      await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      keyRing.forget(blue.arn);
      await expect(secrets.put({ secretId: 's', value: str('two') })).rejects.toThrow(InvalidRequestError);
    });

    it('does not open a version moved under another key', async () => {
      const { secrets, store, blue, green, version } = await withKeys();
      const { arn, versionId } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      const moved = { ...(await version(arn, versionId!)), kmsKeyId: green.arn };
      await store.transact([{ type: 'put', pk: `secret-versions#${arn}`, sk: versionId!, data: moved }]);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(DecryptionFailureError);
    });

    it('re-encrypts the AWSCURRENT, AWSPENDING and AWSPREVIOUS versions when the key changes, and no other', async () => {
      const { secrets, keyRing, blue, green, version } = await withKeys();
      const { arn, versionId: v1 } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      const { versionId: v2 } = await secrets.put({ secretId: 's', value: str('two') });
      const { versionId: v3 } = await secrets.put({ secretId: 's', value: str('three') });
      const { versionId: pending } = await secrets.put({
        secretId: 's',
        value: str('four'),
        versionStages: ['AWSPENDING'],
      });
      // v1 is deprecated now (no label): AWS leaves it under the key that sealed it.
      await secrets.updateSecret({ secretId: 's', kmsKeyId: green.arn, reencrypt: true });
      expect((await secrets.describe({ secretId: 's' })).kmsKeyId).toBe(green.arn);
      expect((await version(arn, v1!)).kmsKeyId).toBe(blue.arn);
      for (const id of [v2, v3, pending]) expect((await version(arn, id)).kmsKeyId).toBe(green.arn);
      // With the old key gone, every labelled version still opens.
      keyRing.forget(blue.arn);
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('three'));
      expect((await secrets.get({ secretId: 's', versionStage: 'AWSPREVIOUS' })).value).toEqual(str('two'));
      expect((await secrets.get({ secretId: 's', versionStage: 'AWSPENDING' })).value).toEqual(str('four'));
      // The deprecated version stayed under the old key, and goes with it.
      await expect(secrets.get({ secretId: 's', versionId: v1! })).rejects.toThrow(DecryptionFailureError);
    });

    it('seals a value given with the new key under it, and re-encrypts the version it replaced', async () => {
      const { secrets, blue, green, version } = await withKeys();
      const { arn, versionId: v1 } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      const { versionId: v2 } = await secrets.updateSecret({
        secretId: 's',
        value: str('two'),
        kmsKeyId: green.arn,
        reencrypt: true,
      });
      expect((await version(arn, v2!)).kmsKeyId).toBe(green.arn);
      expect((await version(arn, v1!)).kmsKeyId).toBe(green.arn);
      expect((await secrets.get({ secretId: 's', versionStage: 'AWSPREVIOUS' })).value).toEqual(str('one'));
    });

    it('leaves existing versions under their key when re-encryption is not allowed', async () => {
      const { secrets, blue, green, version } = await withKeys();
      const { arn, versionId } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      await secrets.updateSecret({ secretId: 's', kmsKeyId: green.arn, reencrypt: false });
      expect((await version(arn, versionId!)).kmsKeyId).toBe(blue.arn);
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('one'));
      const { versionId: next } = await secrets.put({ secretId: 's', value: str('two') });
      expect((await version(arn, next)).kmsKeyId).toBe(green.arn);
    });

    it('goes back to the default key with null', async () => {
      const { secrets, blue, version } = await withKeys();
      const { arn, versionId } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      await secrets.updateSecret({ secretId: 's', kmsKeyId: null, reencrypt: true });
      expect(await secrets.describe({ secretId: 's' })).not.toHaveProperty('kmsKeyId');
      expect(await version(arn, versionId!)).not.toHaveProperty('kmsKeyId');
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('one'));
    });

    it('keeps every version readable when re-encryption stops half-way, and finishes on a retry', async () => {
      const { secrets, store, blue, green, version } = await withKeys();
      const { arn, versionId: v1 } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      const { versionId: v2 } = await secrets.put({ secretId: 's', value: str('two') });
      const transact = store.transact.bind(store);
      let versionWrites = 0;
      store.transact = async (ops) => {
        if (ops.some((op) => op.pk.startsWith('secret-versions#')) && ++versionWrites === 2) {
          throw new Error('crash between two versions');
        }
        return transact(ops);
      };
      await expect(secrets.updateSecret({ secretId: 's', kmsKeyId: green.arn, reencrypt: true })).rejects.toThrow(
        'crash between two versions',
      );
      const keysNow = [(await version(arn, v1!)).kmsKeyId, (await version(arn, v2)).kmsKeyId].sort();
      expect(keysNow).toEqual([blue.arn, green.arn].sort());
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('two'));
      expect((await secrets.get({ secretId: 's', versionStage: 'AWSPREVIOUS' })).value).toEqual(str('one'));
      store.transact = transact;
      await secrets.updateSecret({ secretId: 's', kmsKeyId: green.arn, reencrypt: true });
      expect((await version(arn, v1!)).kmsKeyId).toBe(green.arn);
      expect((await version(arn, v2)).kmsKeyId).toBe(green.arn);
    });

    it('skips a version changed while it was being re-encrypted', async () => {
      const { secrets, store, blue, green, version } = await withKeys();
      const { arn, versionId } = await secrets.create({ name: 's', value: str('one'), kmsKeyId: blue.arn });
      const transact = store.transact.bind(store);
      store.transact = async (ops) => {
        if (ops.some((op) => op.pk.startsWith('secret-versions#')))
          throw new ConditionFailedError(0, ops[0]!.pk, ops[0]!.sk);
        return transact(ops);
      };
      await secrets.updateSecret({ secretId: 's', kmsKeyId: green.arn, reencrypt: true });
      store.transact = transact;
      expect((await version(arn, versionId!)).kmsKeyId).toBe(blue.arn);
    });

    it("leaves a customer key's data keys alone when the root key is rotated", async () => {
      const { secrets, keys, blue } = await withKeys();
      await secrets.create({ name: 'named', value: str('one'), kmsKeyId: blue.arn });
      await secrets.create({ name: 'plain', value: str('two') });
      keys.rotate();
      expect(await secrets.rewrapAll()).toEqual({ rewrapped: 1 });
      expect((await secrets.get({ secretId: 'named' })).value).toEqual(str('one'));
    });
  });
});
