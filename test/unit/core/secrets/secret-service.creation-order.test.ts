import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import type { ItemData, Page, QueryOptions, StoredItem, WriteOp } from '../../../../lambdas/core/ports/store.ts';
import { CREATION_ORDER_PARTITION, creationOrderKey } from '../../../../lambdas/core/secrets/secret-creation-order.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import { SECRETS_PARTITION } from '../../../../lambdas/core/secrets/secret-types.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { FakeClock } from './fixtures.ts';

/** Counts what a listing reads: index entries returned by queries, and secret records fetched. */
class CountingStore extends MemoryStore {
  indexEntriesRead = 0;
  recordsRead: string[] = [];
  override async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    if (pk === SECRETS_PARTITION) this.recordsRead.push(sk);
    return super.get<T>(pk, sk);
  }
  override async query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>> {
    const page = await super.query<T>(pk, options);
    if (pk === CREATION_ORDER_PARTITION) this.indexEntriesRead += page.items.length;
    return page;
  }
  reset(): void {
    this.indexEntriesRead = 0;
    this.recordsRead = [];
  }
}

function world() {
  const store = new CountingStore();
  const clock = new FakeClock();
  const keyProvider = new FakeKeyProvider();
  const service = () => new SecretService({ store, keyProvider, clock, writeRate: 'unlimited' });
  return { store, clock, secrets: service(), service };
}

const everyone = async () => true;

async function names(secrets: SecretService, input: Partial<Parameters<SecretService['listInCreationOrder']>[0]>) {
  const out: string[] = [];
  let after: string | undefined;
  do {
    const page = await secrets.listInCreationOrder({ order: 'asc', limit: 2, visible: everyone, ...input, after });
    out.push(...page.secrets.map((s) => s.name));
    after = page.position;
  } while (after !== undefined);
  return out;
}

describe('Class: SecretService', () => {
  describe('listInCreationOrder (AWS ListSecrets)', () => {
    it('lists by creation date, ties by name, either way, across pages', async () => {
      const { clock, secrets } = world();
      for (const name of ['c', 'a', 'b']) await secrets.create({ name });
      clock.advance(1);
      await secrets.create({ name: 'aa' });
      expect(await names(secrets, {})).toEqual(['a', 'b', 'c', 'aa']);
      expect(await names(secrets, { order: 'desc' })).toEqual(['aa', 'c', 'b', 'a']);
    });

    it('resumes after its position when secrets come and go between pages', async () => {
      const { clock, secrets } = world();
      for (const name of ['a', 'b', 'c', 'd']) {
        await secrets.create({ name });
        clock.advance(1);
      }
      const first = await secrets.listInCreationOrder({ order: 'asc', limit: 2, visible: everyone });
      expect(first.secrets.map((s) => s.name)).toEqual(['a', 'b']);
      await secrets.delete({ secretId: 'b', forceDeleteWithoutRecovery: true });
      await secrets.create({ name: 'e' });
      const second = await secrets.listInCreationOrder({
        order: 'asc',
        limit: 2,
        visible: everyone,
        after: first.position,
      });
      expect(second.secrets.map((s) => s.name)).toEqual(['c', 'd']);
    });

    it('reads one page of the index and only the records of names the caller may see', async () => {
      const { store, clock, secrets } = world();
      for (let i = 0; i < 200; i++) {
        await secrets.create({ name: `s${String(i).padStart(3, '0')}` });
        clock.advance(1);
      }
      // The first listing marks the store indexed (its secrets index themselves); what follows is a page's cost.
      await secrets.listInCreationOrder({ order: 'asc', limit: 1, visible: everyone });
      store.reset();
      const visible = async (name: string) => Number(name.slice(1)) % 2 === 0;
      const page = await secrets.listInCreationOrder({ order: 'asc', limit: 5, visible });
      expect(page.secrets.map((s) => s.name)).toEqual(['s000', 's002', 's004', 's006', 's008']);
      expect(page.position).toBeDefined();
      // A page of 5 costs the entries up to the 5th visible one plus one more, not all 200.
      expect(store.indexEntriesRead).toBeLessThanOrEqual(12);
      expect(store.recordsRead).toEqual(['s000', 's002', 's004', 's006', 's008']);
    });

    it('stops after its scan budget with fewer secrets and a position, when the caller sees few', async () => {
      const { clock, secrets } = world();
      for (let i = 0; i < 1005; i++) {
        await secrets.create({ name: `s${String(i).padStart(4, '0')}` });
        clock.advance(1);
      }
      const visible = async (name: string) => name === 's1004';
      const first = await secrets.listInCreationOrder({ order: 'asc', limit: 10, visible });
      expect(first.secrets).toEqual([]);
      expect(first.position).toBeDefined();
      const second = await secrets.listInCreationOrder({ order: 'asc', limit: 10, visible, after: first.position });
      expect(second.secrets.map((s) => s.name)).toEqual(['s1004']);
      expect(second.position).toBeUndefined();
    });

    it('applies state and filters after the caller’s decision', async () => {
      const { secrets } = world();
      await secrets.create({ name: 'prod/db', description: 'Payments' });
      await secrets.create({ name: 'prod/old' });
      await secrets.create({ name: 'dev/db' });
      await secrets.delete({ secretId: 'prod/old' });
      const filters = [{ key: 'name' as const, values: ['prod/'] }];
      expect(await names(secrets, { filters })).toEqual(['prod/db']);
      expect(await names(secrets, { filters, includePlannedDeletion: true })).toEqual(['prod/db', 'prod/old']);
    });

    it('removes a purged secret from the index, and does not list an earlier secret of a name created again', async () => {
      const { store, clock, secrets } = world();
      await secrets.create({ name: 'x' });
      await secrets.delete({ secretId: 'x', forceDeleteWithoutRecovery: true });
      expect((await store.query(CREATION_ORDER_PARTITION, { prefix: 'a/' })).items).toEqual([]);
      clock.advance(5);
      await secrets.create({ name: 'x' });
      // An entry the index kept by mistake (an indexing that raced the purge) is no secret's.
      await store.transact([
        { type: 'put', pk: CREATION_ORDER_PARTITION, sk: creationOrderKey('asc', 'x', 0), data: { name: 'x' } },
      ]);
      expect(await names(secrets, {})).toEqual(['x']);
    });

    it('indexes a store from before the index on its first listing', async () => {
      const { store, clock, secrets, service } = world();
      for (const name of ['b', 'a', 'c']) {
        await secrets.create({ name });
        clock.advance(1);
      }
      // The store as an earlier Coffer left it: secrets, no index.
      const index = await store.query(CREATION_ORDER_PARTITION);
      await store.transact(
        index.items.map((i): WriteOp => ({ type: 'delete', pk: CREATION_ORDER_PARTITION, sk: i.sk })),
      );
      const upgraded = service();
      expect(await names(upgraded, {})).toEqual(['b', 'a', 'c']);
      store.reset();
      expect(await names(service(), { order: 'desc' })).toEqual(['c', 'a', 'b']);
      // Later services read the marker, not every secret.
      expect(store.recordsRead).toEqual(['c', 'a', 'b']);
    });

    it('indexes a large store in batched transactions', async () => {
      const { store, clock, secrets, service } = world();
      for (let i = 0; i < 120; i++) {
        await secrets.create({ name: `s${String(i).padStart(3, '0')}` });
        clock.advance(1);
      }
      const index = await store.query(CREATION_ORDER_PARTITION, { limit: 1000 });
      const removals = index.items.map((i): WriteOp => ({ type: 'delete', pk: CREATION_ORDER_PARTITION, sk: i.sk }));
      for (let at = 0; at < removals.length; at += 100) await store.transact(removals.slice(at, at + 100));
      let transactions = 0;
      const transact = store.transact.bind(store);
      store.transact = (ops) => {
        transactions++;
        return transact(ops);
      };
      const upgraded = service();
      await upgraded.indexCreationOrder();
      // 240 entries in transactions of at most 100 operations, then the marker.
      expect(transactions).toBe(4);
      expect(await names(upgraded, { limit: 100 })).toHaveLength(120);
    });

    it('refuses a position that is not one of the order asked', async () => {
      const { secrets } = world();
      for (const after of ['garbage', creationOrderKey('desc', 'a', 1)]) {
        await expect(secrets.listInCreationOrder({ order: 'asc', limit: 1, visible: everyone, after })).rejects.toThrow(
          ValidationError,
        );
      }
    });
  });
});
