import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import type { ItemData, StoredItem } from '../../../lambdas/core/ports/store.ts';
import { RequestReadMemo } from '../../../lambdas/core/request-reads.ts';

/** The memory store, counting its reads. */
class CountingStore extends MemoryStore {
  reads = 0;
  failNext = false;
  override async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.reads++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('store unavailable');
    }
    return super.get<T>(pk, sk);
  }
}

async function setup() {
  const inner = new CountingStore();
  await inner.transact([{ type: 'put', pk: 'secrets', sk: 'db', data: { v: 1, nested: { tags: ['a'] } } }]);
  await inner.transact([{ type: 'put', pk: 'tokens', sk: 't', data: { v: 1 } }]);
  inner.reads = 0;
  const store = new RequestReadMemo(inner, { memoize: (pk) => pk === 'secrets' });
  return { inner, store };
}

describe('Class: RequestReadMemo', () => {
  it('reads an item of a memoized partition once per request, and every other item each time', async () => {
    const { inner, store } = await setup();
    await store.run(async () => {
      const [a, b] = await Promise.all([store.get('secrets', 'db'), store.get('secrets', 'db')]);
      expect(await store.get('secrets', 'db')).toBe(a);
      expect(b).toBe(a);
      await store.get('tokens', 't');
      await store.get('tokens', 't');
    });
    expect(inner.reads).toBe(3);
  });

  it('reads afresh after any write, so a write is seen and a conditional retry gets the new revision', async () => {
    const { store } = await setup();
    await store.run(async () => {
      const before = await store.get('secrets', 'db');
      await store.transact([
        { type: 'put', pk: 'secrets', sk: 'db', data: { v: 2 }, condition: { kind: 'rev', rev: before!.rev } },
      ]);
      const after = await store.get('secrets', 'db');
      expect(after?.data).toEqual({ v: 2 });
      expect(after?.rev).toBeGreaterThan(before!.rev);
    });
  });

  it('forgets what it read even when the write fails (a lost race is retried on fresh data)', async () => {
    const { store } = await setup();
    await store.run(async () => {
      const stale = await store.get('secrets', 'db');
      await expect(
        store.transact([{ type: 'put', pk: 'secrets', sk: 'db', data: {}, condition: { kind: 'absent' } }]),
      ).rejects.toThrow();
      expect(await store.get('secrets', 'db')).not.toBe(stale);
    });
  });

  it('is the plain store outside a request and for work that outlives its request', async () => {
    const { inner, store } = await setup();
    await store.get('secrets', 'db');
    await store.get('secrets', 'db');
    expect(inner.reads).toBe(2);
    let later: (() => Promise<unknown>) | undefined;
    await store.run(async () => {
      await store.get('secrets', 'db');
      // A continuation created in the request (a background replication, a rotation step) runs after it ended.
      later = () => store.get('secrets', 'db');
    });
    inner.reads = 0;
    await later!();
    await later!();
    expect(inner.reads).toBe(2);
  });

  it('freezes what it shares, so a reader cannot change what the next one sees', async () => {
    const { store } = await setup();
    await store.run(async () => {
      const item = await store.get<{ nested: { tags: string[] } }>('secrets', 'db');
      expect(() => item!.data.nested.tags.push('b')).toThrow(TypeError);
    });
  });

  it('does not remember a failed read', async () => {
    const { inner, store } = await setup();
    await store.run(async () => {
      inner.failNext = true;
      await expect(store.get('secrets', 'db')).rejects.toThrow('store unavailable');
      expect((await store.get('secrets', 'db'))?.data).toMatchObject({ v: 1 });
    });
  });
});
