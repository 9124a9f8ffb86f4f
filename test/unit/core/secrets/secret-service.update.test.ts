import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { AlreadyExistsError, InvalidRequestError } from '../../../../lambdas/core/errors.ts';
import type { WriteOp } from '../../../../lambdas/core/ports/store.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { FakeClock, setup, str, token } from './fixtures.ts';

/** A memory store whose next transaction fails as a lost connection would, having applied nothing. */
class FailingStore extends MemoryStore {
  failNext = false;
  transactions = 0;
  override async transact(ops: readonly WriteOp[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('store unavailable');
    }
    this.transactions++;
    return super.transact(ops);
  }
}

function failingSetup() {
  const store = new FailingStore();
  const secrets = new SecretService({
    store,
    keyProvider: new FakeKeyProvider(),
    clock: new FakeClock(),
    writeRate: 'unlimited',
  });
  return { store, secrets };
}

describe('Class: SecretService', () => {
  describe('updateSecret (AWS UpdateSecret)', () => {
    it('writes the description and the new current value in one transaction', async () => {
      const { store, secrets } = failingSetup();
      await secrets.create({ name: 's', description: 'old', value: str('v1') });
      const before = store.transactions;
      const updated = await secrets.updateSecret({ secretId: 's', description: 'new', value: str('v2') });
      expect(store.transactions - before).toBe(1);
      expect((await secrets.describe({ secretId: 's' })).description).toBe('new');
      const got = await secrets.get({ secretId: 's' });
      expect(got.value).toEqual(str('v2'));
      expect(got.versionId).toBe(updated.versionId);
    });

    it('changes neither the description nor the value when the write fails', async () => {
      const { store, secrets } = failingSetup();
      await secrets.create({ name: 's', description: 'old', value: str('v1') });
      store.failNext = true;
      await expect(secrets.updateSecret({ secretId: 's', description: 'new', value: str('v2') })).rejects.toThrow(
        'store unavailable',
      );
      expect((await secrets.describe({ secretId: 's' })).description).toBe('old');
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v1'));
    });

    it('keeps the description when the value is refused (a used token with another value)', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', description: 'old', value: str('v1'), clientRequestToken: token('a') });
      await expect(
        secrets.updateSecret({
          secretId: 's',
          description: 'new',
          value: str('v2'),
          clientRequestToken: token('a'),
          mayRead: true,
        }),
      ).rejects.toThrow(AlreadyExistsError);
      expect((await secrets.describe({ secretId: 's' })).description).toBe('old');
    });

    it('answers a reader retrying with the same token and value with the first version, and its description', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('v1') });
      const request = { secretId: 's', value: str('v2'), clientRequestToken: token('b'), mayRead: true };
      const first = await secrets.updateSecret({ ...request, description: 'one' });
      const retried = await secrets.updateSecret({ ...request, description: 'two' });
      expect(retried.versionId).toBe(first.versionId);
      expect((await secrets.describe({ secretId: 's' })).description).toBe('two');
    });

    it('updates only the description without a value, and changes nothing without either', async () => {
      const { secrets } = setup();
      const created = await secrets.create({ name: 's', value: str('v1') });
      expect(await secrets.updateSecret({ secretId: 's', description: 'd' })).toEqual({
        arn: created.arn,
        name: 's',
      });
      expect(await secrets.updateSecret({ secretId: 's' })).toEqual({ arn: created.arn, name: 's' });
      const described = await secrets.describe({ secretId: 's' });
      expect(described.description).toBe('d');
      expect((await secrets.get({ secretId: 's' })).versionId).toBe(created.versionId);
    });

    it('refuses a secret pending deletion, writing nothing', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', description: 'old', value: str('v1') });
      await secrets.delete({ secretId: 's' });
      await expect(secrets.updateSecret({ secretId: 's', description: 'new', value: str('v2') })).rejects.toThrow(
        InvalidRequestError,
      );
      expect((await secrets.describe({ secretId: 's' })).description).toBe('old');
    });
  });
});
