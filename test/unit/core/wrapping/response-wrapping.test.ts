import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { ResponseWrapping, WRAPPING_PARTITION } from '../../../../lambdas/core/wrapping/response-wrapping.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';

function wrappingOn(store = new MemoryStore(), keyProvider = new FakeKeyProvider()) {
  return {
    store,
    keyProvider,
    wrapping: new ResponseWrapping({ store, keyProvider, clock: { now: () => 1_000_000 } }),
  };
}

describe('ResponseWrapping', () => {
  it('keeps neither the token nor the answer in clear', async () => {
    const { store, wrapping } = wrappingOn();
    const info = await wrapping.wrap(
      JSON.stringify({ secret_id: 'the-secret-id-value' }),
      60,
      'auth/approle/role/ci/secret-id',
    );
    const [item] = (await store.query(WRAPPING_PARTITION)).items;
    const stored = JSON.stringify(item);
    expect(stored).not.toContain('the-secret-id-value');
    expect(stored).not.toContain(info.token);
    expect(item?.expiresAt).toBe(1_000_000 + 60_000);
  });

  it('lets exactly one of two racing unwraps have the answer', async () => {
    const { wrapping } = wrappingOn();
    const { token } = await wrapping.wrap(JSON.stringify({ secret_id: 'x' }), 60, 'p');
    const results = await Promise.allSettled([wrapping.unwrap(token), wrapping.unwrap(token)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'fulfilled')).toMatchObject({ value: { secret_id: 'x' } });
  });

  it('cannot be opened under another token’s binding', async () => {
    const { store, wrapping } = wrappingOn();
    const a = await wrapping.wrap('{"a":1}', 60, 'p');
    const b = await wrapping.wrap('{"b":2}', 60, 'p');
    const items = (await store.query(WRAPPING_PARTITION)).items;
    // Swap the sealed answers between the two records: each must then fail authentication, not open the other's.
    const [first, second] = items;
    await store.transact([
      {
        type: 'put',
        pk: WRAPPING_PARTITION,
        sk: first!.sk,
        data: { ...first!.data, blob: second!.data.blob, wrapped: second!.data.wrapped },
      },
    ]);
    const tokens = [a.token, b.token];
    const outcomes = await Promise.allSettled(tokens.map((t) => wrapping.unwrap(t)));
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
  });

  it('re-wraps unread answers under a rotated root key, which still open', async () => {
    const { keyProvider, wrapping } = wrappingOn();
    const { token } = await wrapping.wrap('{"k":"v"}', 60, 'p');
    keyProvider.rotate();
    expect(await wrapping.rewrapAll()).toEqual({ rewrapped: 1 });
    expect(await wrapping.rewrapAll()).toEqual({ rewrapped: 0 });
    expect(await wrapping.unwrap(token)).toEqual({ k: 'v' });
  });
});
