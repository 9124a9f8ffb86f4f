import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Condition,
  ConditionFailedError,
  type ItemData,
  MAX_TRANSACTION_OPS,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../lambdas/core/ports/store.ts';

/** What a contract run needs from an adapter: a fresh store, and how to dispose of anything it left behind. */
export type StoreFactory = () => Promise<{ store: Store; cleanup?: () => Promise<void> }>;

/**
 * The behaviour every `Store` adapter must show (memory, SQLite, DynamoDB). Each test writes to partitions of its
 * own, so adapters backed by a shared table can run it too; nothing here relies on one adapter's internals.
 *
 * @example
 * describeStoreContract('MemoryStore', async () => ({ store: new MemoryStore() }));
 */
export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });

    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    /** A partition no other test (or earlier run against a shared table) touches. */
    const partition = (label = 'p'): string => `contract-${label}-${randomUUID()}`;

    const put = (
      pk: string,
      sk: string,
      data: ItemData = {},
      extra: { condition?: Condition; expiresAt?: number } = {},
    ): WriteOp => ({ type: 'put', pk, sk, data, ...extra });

    async function putAll(pk: string, sks: readonly string[]): Promise<void> {
      for (let start = 0; start < sks.length; start += MAX_TRANSACTION_OPS) {
        const chunk = sks.slice(start, start + MAX_TRANSACTION_OPS);
        await store.transact(chunk.map((sk) => put(pk, sk, { sk })));
      }
    }

    async function conditionFailure(ops: readonly WriteOp[]): Promise<ConditionFailedError> {
      const error = await store.transact(ops).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ConditionFailedError);
      return error as ConditionFailedError;
    }

    describe('get and put', () => {
      it('round-trips deep JSON data, including unicode', async () => {
        const pk = partition();
        const data = {
          name: 'prod/db — ключ 🔑 秘密',
          empty: '',
          count: 42,
          ratio: -0.125,
          enabled: true,
          nothing: null,
          tags: [
            { key: 'env', value: 'prod' },
            { key: 'ünïcødé', value: '\u0000\t\n"\\' },
          ],
          nested: { deeper: { deepest: [1, [2, [3, { four: 4 }]]] } },
        };
        await store.transact([put(pk, 'meta', data)]);

        const item = await store.get(pk, 'meta');

        expect(item).toEqual({ pk, sk: 'meta', rev: 1, data });
      });

      it('returns undefined for a missing item, in a missing or an existing partition', async () => {
        const pk = partition();
        expect(await store.get(pk, 'nope')).toBeUndefined();
        await store.transact([put(pk, 'there')]);
        expect(await store.get(pk, 'nope')).toBeUndefined();
      });

      it('starts rev at 1 and increments it by one per put, replacing the data', async () => {
        const pk = partition();
        await store.transact([put(pk, 'k', { v: 1, old: true })]);
        await store.transact([put(pk, 'k', { v: 2 })]);
        await store.transact([put(pk, 'k', { v: 3 })]);

        expect(await store.get(pk, 'k')).toEqual({ pk, sk: 'k', rev: 3, data: { v: 3 } });
      });

      it('isolates stored data from later mutation of the written or the returned object', async () => {
        const pk = partition();
        const data = { list: [1, 2], inner: { x: 'a' } };
        await store.transact([put(pk, 'k', data)]);
        data.list.push(3);
        data.inner.x = 'changed';
        const first = await store.get<{ list: number[]; inner: { x: string } }>(pk, 'k');
        first!.data.list.push(99);

        expect((await store.get(pk, 'k'))?.data).toEqual({ list: [1, 2], inner: { x: 'a' } });
      });

      it('restarts rev at 1 when a deleted item is put again', async () => {
        const pk = partition();
        await store.transact([put(pk, 'k', { v: 1 })]);
        await store.transact([put(pk, 'k', { v: 2 })]);
        await store.transact([{ type: 'delete', pk, sk: 'k' }]);
        expect(await store.get(pk, 'k')).toBeUndefined();

        await store.transact([put(pk, 'k', { v: 3 }, { condition: { kind: 'absent' } })]);

        expect(await store.get(pk, 'k')).toEqual({ pk, sk: 'k', rev: 1, data: { v: 3 } });
      });
    });

    describe('expiresAt', () => {
      it('round-trips expiresAt through get and query', async () => {
        const pk = partition();
        const expiresAt = Date.UTC(2031, 0, 2, 3, 4, 5, 678);
        await store.transact([put(pk, 'k', { v: 1 }, { expiresAt })]);

        expect((await store.get(pk, 'k'))?.expiresAt).toBe(expiresAt);
        expect((await store.query(pk)).items[0]?.expiresAt).toBe(expiresAt);
      });

      it('leaves expiresAt unset when a put omits it, clearing an earlier one', async () => {
        const pk = partition();
        await store.transact([put(pk, 'never')]);
        await store.transact([put(pk, 'cleared', {}, { expiresAt: 1_900_000_000_000 })]);
        await store.transact([put(pk, 'cleared', { v: 2 })]);

        expect((await store.get(pk, 'never'))?.expiresAt).toBeUndefined();
        expect((await store.get(pk, 'cleared'))?.expiresAt).toBeUndefined();
      });
    });

    describe('conditions', () => {
      it('puts with an absent condition only when the item does not exist', async () => {
        const pk = partition();
        await store.transact([put(pk, 'k', { v: 1 }, { condition: { kind: 'absent' } })]);

        const error = await conditionFailure([put(pk, 'k', { v: 2 }, { condition: { kind: 'absent' } })]);

        expect(error).toMatchObject({ name: 'ConditionFailedError', index: 0, pk, sk: 'k' });
        expect(await store.get(pk, 'k')).toEqual({ pk, sk: 'k', rev: 1, data: { v: 1 } });
      });

      it('puts with an exists condition only when the item exists', async () => {
        const pk = partition();
        await conditionFailure([put(pk, 'k', { v: 1 }, { condition: { kind: 'exists' } })]);
        expect(await store.get(pk, 'k')).toBeUndefined();

        await store.transact([put(pk, 'k', { v: 1 })]);
        await store.transact([put(pk, 'k', { v: 2 }, { condition: { kind: 'exists' } })]);

        expect(await store.get(pk, 'k')).toMatchObject({ rev: 2, data: { v: 2 } });
      });

      it('puts with a rev condition only at exactly that revision', async () => {
        const pk = partition();
        await conditionFailure([put(pk, 'k', {}, { condition: { kind: 'rev', rev: 1 } })]);
        await store.transact([put(pk, 'k', { v: 1 })]);
        await store.transact([put(pk, 'k', { v: 2 }, { condition: { kind: 'rev', rev: 1 } })]);

        const stale = await conditionFailure([put(pk, 'k', { v: 3 }, { condition: { kind: 'rev', rev: 1 } })]);

        expect(stale.index).toBe(0);
        expect(await store.get(pk, 'k')).toMatchObject({ rev: 2, data: { v: 2 } });
      });

      it('deletes a missing item without a condition as a no-op', async () => {
        const pk = partition();
        await store.transact([{ type: 'delete', pk, sk: 'ghost' }]);
        expect(await store.get(pk, 'ghost')).toBeUndefined();
      });

      it('deletes with exists and rev conditions only when they hold', async () => {
        const pk = partition();
        await conditionFailure([{ type: 'delete', pk, sk: 'k', condition: { kind: 'exists' } }]);
        await store.transact([put(pk, 'k'), put(pk, 'j')]);
        await store.transact([put(pk, 'k')]);

        await conditionFailure([{ type: 'delete', pk, sk: 'k', condition: { kind: 'rev', rev: 1 } }]);
        expect(await store.get(pk, 'k')).toMatchObject({ rev: 2 });
        await conditionFailure([{ type: 'delete', pk, sk: 'k', condition: { kind: 'absent' } }]);

        await store.transact([{ type: 'delete', pk, sk: 'k', condition: { kind: 'rev', rev: 2 } }]);
        await store.transact([{ type: 'delete', pk, sk: 'j', condition: { kind: 'exists' } }]);
        expect(await store.get(pk, 'k')).toBeUndefined();
        expect(await store.get(pk, 'j')).toBeUndefined();
      });

      it('checks a condition without writing the checked item', async () => {
        const pk = partition();
        await store.transact([put(pk, 'guard', { v: 1 })]);

        await store.transact([
          { type: 'check', pk, sk: 'guard', condition: { kind: 'rev', rev: 1 } },
          { type: 'check', pk, sk: 'none', condition: { kind: 'absent' } },
          put(pk, 'guarded', { ok: true }),
        ]);

        expect(await store.get(pk, 'guard')).toEqual({ pk, sk: 'guard', rev: 1, data: { v: 1 } });
        expect(await store.get(pk, 'none')).toBeUndefined();
        expect(await store.get(pk, 'guarded')).toMatchObject({ rev: 1 });
      });

      it('rejects a transaction whose check fails, with its pk and sk', async () => {
        const pk = partition();
        await store.transact([put(pk, 'guard')]);

        const error = await conditionFailure([
          { type: 'check', pk, sk: 'guard', condition: { kind: 'absent' } },
          put(pk, 'guarded'),
        ]);

        expect(error).toMatchObject({ index: 0, pk, sk: 'guard' });
        expect(await store.get(pk, 'guarded')).toBeUndefined();
      });
    });

    describe('all-or-nothing transactions', () => {
      it('applies none of the operations when a later one fails, reporting its index', async () => {
        const pk = partition();
        const other = partition('other');
        await store.transact([put(pk, 'existing', { v: 1 }), put(pk, 'doomed', { v: 1 })]);

        const error = await conditionFailure([
          put(pk, 'new', { v: 1 }),
          put(other, 'existing', { v: 2 }, { condition: { kind: 'exists' } }),
          { type: 'delete', pk, sk: 'doomed' },
        ]);

        expect(error).toMatchObject({ index: 1, pk: other, sk: 'existing' });
        expect(await store.get(pk, 'new')).toBeUndefined();
        expect(await store.get(pk, 'doomed')).toMatchObject({ rev: 1 });
        expect(await store.get(other, 'existing')).toBeUndefined();
      });

      it('reports the first failing operation when several fail', async () => {
        const pk = partition();
        await store.transact([put(pk, 'a'), put(pk, 'b')]);

        const error = await conditionFailure([
          put(pk, 'a', { v: 2 }, { condition: { kind: 'rev', rev: 1 } }),
          put(pk, 'b', { v: 2 }, { condition: { kind: 'absent' } }),
          put(pk, 'c', { v: 2 }, { condition: { kind: 'exists' } }),
        ]);

        expect(error).toMatchObject({ index: 1, pk, sk: 'b' });
        expect(await store.get(pk, 'a')).toMatchObject({ rev: 1 });
      });

      it('applies every operation of a successful multi-item transaction', async () => {
        const pk = partition();
        await store.transact([put(pk, 'gone'), put(pk, 'kept', { v: 1 })]);

        await store.transact([
          put(pk, 'kept', { v: 2 }, { condition: { kind: 'rev', rev: 1 } }),
          { type: 'delete', pk, sk: 'gone', condition: { kind: 'exists' } },
          put(pk, 'fresh', { v: 1 }, { condition: { kind: 'absent' } }),
        ]);

        expect((await store.query(pk)).items.map((item) => [item.sk, item.rev, item.data])).toEqual([
          ['fresh', 1, { v: 1 }],
          ['kept', 2, { v: 2 }],
        ]);
      });

      it('rejects only the concurrent transactions whose conditions fail', async () => {
        const pk = partition();
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.transact([
              put(pk, `item-${i}`, { i }),
              ...(i % 4 === 0 ? [{ type: 'check', pk, sk: 'missing', condition: { kind: 'exists' } } as const] : []),
            ]),
          ),
        );

        results.forEach((result, i) => {
          expect(result.status).toBe(i % 4 === 0 ? 'rejected' : 'fulfilled');
        });
        const stored = (await store.query(pk)).items.map((item) => item.data.i);
        expect(stored.sort((a, b) => Number(a) - Number(b))).toEqual(
          Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 4 !== 0),
        );
      });
    });

    describe('validation', () => {
      it('rejects an empty transaction with a RangeError', async () => {
        await expect(store.transact([])).rejects.toThrow(RangeError);
      });

      it('accepts 100 operations and rejects 101 with a RangeError, writing nothing', async () => {
        const pk = partition();
        const ops = (n: number) => Array.from({ length: n }, (_, i) => put(pk, `k${String(i).padStart(3, '0')}`));

        await expect(store.transact(ops(MAX_TRANSACTION_OPS + 1))).rejects.toThrow(RangeError);
        expect((await store.query(pk)).items).toEqual([]);
        await store.transact(ops(MAX_TRANSACTION_OPS));
        expect((await store.query(pk, { limit: 1000 })).items).toHaveLength(MAX_TRANSACTION_OPS);
      });

      it('rejects a transaction touching one item twice with a RangeError, writing nothing', async () => {
        const pk = partition();

        await expect(
          store.transact([
            put(pk, 'other'),
            put(pk, 'k'),
            { type: 'check', pk, sk: 'k', condition: { kind: 'absent' } },
          ]),
        ).rejects.toThrow(RangeError);

        expect(await store.get(pk, 'other')).toBeUndefined();
      });

      it('accepts the same sort key in different partitions within one transaction', async () => {
        const a = partition('a');
        const b = partition('b');
        await store.transact([put(a, 'k', { in: 'a' }), put(b, 'k', { in: 'b' })]);

        expect((await store.get(a, 'k'))?.data).toEqual({ in: 'a' });
        expect((await store.get(b, 'k'))?.data).toEqual({ in: 'b' });
      });
    });

    describe('query', () => {
      it('orders sort keys byte-wise by their UTF-8 encoding', async () => {
        const pk = partition();
        // '～' (U+FF5E) sorts before '😀' (U+1F600) in UTF-8 but after it in UTF-16, the JavaScript default.
        const byteOrder = ['A', 'a', 'a/b', 'a0', 'a_', 'b', 'z', '~', 'é', '～', '😀'];
        await putAll(pk, ['😀', 'b', 'a_', '～', 'a0', 'z', 'a/b', 'é', 'A', '~', 'a']);

        const page = await store.query(pk);

        expect(page.items.map((item) => item.sk)).toEqual(byteOrder);
        expect(page.lastKey).toBeUndefined();
      });

      it('returns full items', async () => {
        const pk = partition();
        await store.transact([put(pk, 'k', { v: 1 })]);
        await store.transact([put(pk, 'k', { v: 2 })]);

        expect((await store.query(pk)).items).toEqual([{ pk, sk: 'k', rev: 2, data: { v: 2 } }]);
      });

      it('filters by prefix, treating % and _ literally', async () => {
        const pk = partition();
        await putAll(pk, ['a', 'a%', 'a%b', 'a%c', 'aXb', 'a_', 'a_x', 'aYx', 'ab', 'a\\_', 'b%']);

        const keys = async (prefix: string) => (await store.query(pk, { prefix })).items.map((item) => item.sk);

        expect(await keys('a%')).toEqual(['a%', 'a%b', 'a%c']);
        expect(await keys('a_')).toEqual(['a_', 'a_x']);
        expect(await keys('a\\')).toEqual(['a\\_']);
        expect(await keys('a')).toEqual(['a', 'a%', 'a%b', 'a%c', 'aXb', 'aYx', 'a\\_', 'a_', 'a_x', 'ab']);
        expect(await keys('c')).toEqual([]);
      });

      it('filters by a multi-byte prefix', async () => {
        const pk = partition();
        await putAll(pk, ['é', 'éa', 'é😀', 'ê', 'e', '😀', '😀x', '😁']);

        const keys = async (prefix: string) => (await store.query(pk, { prefix })).items.map((item) => item.sk);

        expect(await keys('é')).toEqual(['é', 'éa', 'é😀']);
        expect(await keys('😀')).toEqual(['😀', '😀x']);
      });

      it('pages with lastKey and startAfter, returning every item exactly once', async () => {
        const pk = partition();
        const all = Array.from({ length: 25 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
        await putAll(pk, [...all].reverse());

        const seen: string[] = [];
        const pageSizes: number[] = [];
        let startAfter: string | undefined;
        do {
          const page = await store.query(pk, { limit: 7, ...(startAfter === undefined ? {} : { startAfter }) });
          pageSizes.push(page.items.length);
          seen.push(...page.items.map((item) => item.sk));
          startAfter = page.lastKey;
        } while (startAfter !== undefined);

        expect(pageSizes).toEqual([7, 7, 7, 4]);
        expect(seen).toEqual(all);
      });

      it('omits lastKey when the last page is exactly full', async () => {
        const pk = partition();
        await putAll(pk, ['a', 'b', 'c', 'd']);

        const first = await store.query(pk, { limit: 2 });
        const second = await store.query(pk, { limit: 2, startAfter: first.lastKey! });

        expect(first).toMatchObject({ lastKey: 'b' });
        expect(second.items.map((item) => item.sk)).toEqual(['c', 'd']);
        expect(second.lastKey).toBeUndefined();
      });

      it('pages within a prefix', async () => {
        const pk = partition();
        await putAll(pk, ['x/1', 'y/1', 'y/2', 'y/3', 'y/4', 'y/5', 'z/1']);

        const first = await store.query(pk, { prefix: 'y/', limit: 3 });
        const second = await store.query(pk, { prefix: 'y/', limit: 3, startAfter: first.lastKey! });

        expect(first.items.map((item) => item.sk)).toEqual(['y/1', 'y/2', 'y/3']);
        expect(second.items.map((item) => item.sk)).toEqual(['y/4', 'y/5']);
        expect(second.lastKey).toBeUndefined();
      });

      it('starts strictly after a startAfter key that is not stored', async () => {
        const pk = partition();
        await putAll(pk, ['a', 'c', 'e']);

        expect((await store.query(pk, { startAfter: 'b' })).items.map((item) => item.sk)).toEqual(['c', 'e']);
        expect((await store.query(pk, { startAfter: 'c' })).items.map((item) => item.sk)).toEqual(['e']);
        expect((await store.query(pk, { startAfter: 'e' })).items).toEqual([]);
      });

      it('returns 100 items by default and at most 1000', async () => {
        const pk = partition();
        await putAll(
          pk,
          Array.from({ length: 1001 }, (_, i) => `k${String(i).padStart(4, '0')}`),
        );

        const byDefault = await store.query(pk);
        const capped = await store.query(pk, { limit: 5000 });

        expect(byDefault.items).toHaveLength(100);
        expect(byDefault.lastKey).toBe('k0099');
        expect(capped.items).toHaveLength(1000);
        expect(capped.lastKey).toBe('k0999');
      });

      it('keeps partitions isolated, even when one partition key prefixes another', async () => {
        const pk = partition();
        const longer = `${pk}1`;
        await store.transact([put(pk, 'shared', { in: 'pk' }), put(longer, 'shared', { in: 'longer' })]);
        await store.transact([put(longer, 'only-longer')]);

        expect((await store.query(pk)).items.map((item: StoredItem) => [item.sk, item.data])).toEqual([
          ['shared', { in: 'pk' }],
        ]);
        expect((await store.query(longer)).items.map((item) => item.sk)).toEqual(['only-longer', 'shared']);
        expect(await store.query(partition('empty'))).toEqual({ items: [] });
      });
    });

    describe('concurrency', () => {
      it('loses no update across 50 concurrent read-modify-write increments', async () => {
        const pk = partition();
        await store.transact([put(pk, 'counter', { n: 0 })]);

        const increment = async (): Promise<void> => {
          for (;;) {
            const current = await store.get<{ n: number }>(pk, 'counter');
            try {
              await store.transact([
                put(pk, 'counter', { n: current!.data.n + 1 }, { condition: { kind: 'rev', rev: current!.rev } }),
              ]);
              return;
            } catch (error) {
              if (!(error instanceof ConditionFailedError)) throw error;
            }
          }
        };
        await Promise.all(Array.from({ length: 50 }, increment));

        expect(await store.get(pk, 'counter')).toMatchObject({ rev: 51, data: { n: 50 } });
      });
    });

    describe('close', () => {
      it('closes more than once without error', async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
