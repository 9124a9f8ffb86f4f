import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import type { ItemData, StoredItem } from '../../../lambdas/core/ports/store.ts';
import { SingleWriterCache } from '../../../lambdas/core/single-writer-cache.ts';

/** Counts reads, and can hold one read until released. */
class CountingStore extends MemoryStore {
  reads = 0;
  hold: Promise<void> | undefined;
  override async get<T extends ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.reads++;
    const item = await super.get<T>(pk, sk);
    if (this.hold !== undefined) await this.hold;
    return item;
  }
}

function setup(maxItems?: number) {
  const inner = new CountingStore();
  const store = new SingleWriterCache(inner, { cache: (pk) => pk === 'secrets', ...(maxItems && { maxItems }) });
  return { inner, store };
}

const put = (sk: string, value: string) => ({ type: 'put' as const, pk: 'secrets', sk, data: { value } });

describe('Class: SingleWriterCache', () => {
  it('reads an item of a cached partition once, and absence once', async () => {
    const { inner, store } = setup();
    await store.transact([put('a', '1')]);
    expect((await store.get('secrets', 'a'))?.data).toEqual({ value: '1' });
    expect((await store.get('secrets', 'a'))?.data).toEqual({ value: '1' });
    expect(await store.get('secrets', 'missing')).toBeUndefined();
    expect(await store.get('secrets', 'missing')).toBeUndefined();
    expect(inner.reads).toBe(2);
  });

  it('reads other partitions afresh every time', async () => {
    const { inner, store } = setup();
    await store.get('tokens', 'x');
    await store.get('tokens', 'x');
    expect(inner.reads).toBe(2);
  });

  it('shows its own writes at once, a delete included', async () => {
    const { store } = setup();
    await store.transact([put('a', '1')]);
    await store.get('secrets', 'a');
    await store.transact([put('a', '2')]);
    expect((await store.get('secrets', 'a'))?.data).toEqual({ value: '2' });
    await store.transact([{ type: 'delete', pk: 'secrets', sk: 'a' }]);
    expect(await store.get('secrets', 'a')).toBeUndefined();
  });

  it('forgets what a failed write touched: the next read goes to the store', async () => {
    const { inner, store } = setup();
    await store.transact([put('a', '1')]);
    await store.get('secrets', 'a');
    await expect(store.transact([{ ...put('a', '2'), condition: { kind: 'absent' } }])).rejects.toThrow();
    const before = inner.reads;
    expect((await store.get('secrets', 'a'))?.data).toEqual({ value: '1' });
    expect(inner.reads).toBe(before + 1);
  });

  it('does not keep a read that overlapped a write', async () => {
    const { inner, store } = setup();
    await store.transact([put('a', '1')]);
    let release = () => {};
    inner.hold = new Promise((resolve) => (release = resolve));
    const overlapping = store.get('secrets', 'a');
    await new Promise((resolve) => setImmediate(resolve));
    inner.hold = undefined;
    await store.transact([put('a', '2')]);
    release();
    expect((await overlapping)?.data).toEqual({ value: '1' });
    expect((await store.get('secrets', 'a'))?.data).toEqual({ value: '2' });
  });

  it('hands out frozen items, so no reader changes what the next one sees', async () => {
    const { store } = setup();
    await store.transact([{ type: 'put', pk: 'secrets', sk: 'a', data: { nested: { value: '1' } } }]);
    const item = await store.get<{ nested: { value: string } }>('secrets', 'a');
    expect(() => {
      (item!.data.nested as { value: string }).value = 'changed';
    }).toThrow(TypeError);
  });

  it('keeps at most maxItems, dropping the oldest first', async () => {
    const { inner, store } = setup(2);
    await store.transact([put('a', '1'), put('b', '2'), put('c', '3')]);
    for (const sk of ['a', 'b', 'c']) await store.get('secrets', sk);
    const before = inner.reads;
    await store.get('secrets', 'c');
    await store.get('secrets', 'b');
    expect(inner.reads).toBe(before);
    await store.get('secrets', 'a');
    expect(inner.reads).toBe(before + 1);
  });
});
