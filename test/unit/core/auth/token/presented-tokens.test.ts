import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { PresentedTokens } from '../../../../../lambdas/core/auth/token/presented-tokens.ts';
import { TokenService } from '../../../../../lambdas/core/auth/token/token-service.ts';
import { UnauthenticatedError } from '../../../../../lambdas/core/errors.ts';
import type { StoredItem } from '../../../../../lambdas/core/ports/store.ts';

const NOW = Date.UTC(2030, 0, 1);

/** Counts reads of the token partition, and can hold one read until released. */
class CountingStore extends MemoryStore {
  tokenReads = 0;
  hold: Promise<void> | undefined;
  override async get<T extends Record<string, unknown>>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    if (pk !== 'tokens') return super.get<T>(pk, sk);
    this.tokenReads++;
    const item = await super.get<T>(pk, sk);
    if (this.hold !== undefined) await this.hold;
    return item;
  }
}

function setup(cacheMs = 30_000) {
  const store = new CountingStore();
  const clock = {
    time: NOW,
    now() {
      return this.time;
    },
  };
  const tokens = new TokenService({ store, clock, presentedTokenCacheMs: cacheMs });
  return { store, clock, tokens };
}

describe('Class: PresentedTokens', () => {
  it('serves a token presented again from memory, and reads it afresh once its time is up', async () => {
    const { store, clock, tokens } = setup();
    const { token } = await tokens.createRoot();
    await tokens.authenticate(token);
    await tokens.authenticate(token);
    await tokens.authenticate(token);
    expect(store.tokenReads).toBe(1);
    clock.time += 30_000;
    await tokens.authenticate(token);
    expect(store.tokenReads).toBe(2);
  });

  it('reads the store on every presentation when switched off (the default)', async () => {
    const { store, tokens } = setup(0);
    const { token } = await tokens.createRoot();
    await tokens.authenticate(token);
    await tokens.authenticate(token);
    expect(store.tokenReads).toBe(2);
  });

  it('refuses a revoked token on the very next presentation', async () => {
    const { tokens } = setup();
    const root = await tokens.createRoot();
    const child = await tokens.create(root.record, { policies: ['app'], ttl: '1h' });
    await tokens.authenticate(child.token);
    await tokens.revoke({ accessor: root.record.accessor });
    await expect(tokens.authenticate(child.token)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('does not keep a read that overlapped a revocation', async () => {
    const { store, tokens } = setup();
    const root = await tokens.createRoot();
    const child = await tokens.create(root.record, { policies: ['app'], ttl: '1h' });
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    // This read sees the token alive, but answers only after the revocation committed.
    const overlapping = tokens.authenticate(child.token);
    await new Promise((resolve) => setImmediate(resolve));
    store.hold = undefined;
    await tokens.revoke({ accessor: child.record.accessor });
    release();
    await overlapping;
    await expect(tokens.authenticate(child.token)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('checks expiry on every presentation of a remembered token', async () => {
    const { clock, tokens } = setup();
    const root = await tokens.createRoot();
    const child = await tokens.create(root.record, { policies: ['app'], ttl: '10s' });
    await tokens.authenticate(child.token);
    clock.time += 10_001;
    await expect(tokens.authenticate(child.token)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('never remembers a use-limited token: every use is spent in the store', async () => {
    const { store, tokens } = setup();
    const root = await tokens.createRoot();
    const limited = await tokens.create(root.record, { policies: ['app'], numUses: 2 });
    await tokens.authenticate(limited.token);
    await tokens.authenticate(limited.token);
    await expect(tokens.authenticate(limited.token)).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(store.tokenReads).toBe(3);
  });

  it("sees another writer's revocation only once the entry's time is up (why the AWS runtime leaves it off)", async () => {
    const { store, clock, tokens } = setup(5_000);
    const root = await tokens.createRoot();
    const child = await tokens.create(root.record, { policies: ['app'], ttl: '1h' });
    await tokens.authenticate(child.token);
    const elsewhere = new TokenService({ store, clock });
    await elsewhere.revoke({ accessor: child.record.accessor });
    await tokens.authenticate(child.token);
    clock.time += 5_000;
    await expect(tokens.authenticate(child.token)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('hands out frozen records, so no reader can change what the next one sees', async () => {
    const { tokens } = setup();
    const { token } = await tokens.createRoot();
    await tokens.authenticate(token);
    const record = await tokens.authenticate(token);
    expect(Object.isFrozen(record)).toBe(true);
    expect(Object.isFrozen(record.policies)).toBe(true);
  });

  it('stays within its bound: a flood of distinct tokens starts it afresh', () => {
    const cache = new PresentedTokens<{ n: number }>({ ttlMs: 1_000, maxEntries: 2 });
    cache.remember('a', { n: 1 }, cache.generation, NOW);
    cache.remember('b', { n: 2 }, cache.generation, NOW);
    cache.remember('c', { n: 3 }, cache.generation, NOW);
    expect(cache.lookup('a', NOW)).toBeUndefined();
    expect(cache.lookup('c', NOW)).toEqual({ n: 3 });
  });
});
