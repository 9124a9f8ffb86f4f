import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { MAX_CEILINGS, MAX_CEILINGS_CHARS } from '../../../../../lambdas/core/auth/derived-credentials.ts';
import { hashToken, TokenService } from '../../../../../lambdas/core/auth/token/token-service.ts';
import { TOKEN_PARTITIONS, type TokenRecord } from '../../../../../lambdas/core/auth/token/token-types.ts';
import {
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  ValidationError,
} from '../../../../../lambdas/core/errors.ts';
import type { Clock } from '../../../../../lambdas/core/ports/clock.ts';
import { MAX_TRANSACTION_OPS, type StoredItem, type WriteOp } from '../../../../../lambdas/core/ports/store.ts';

const NOW = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

class FakeClock implements Clock {
  constructor(public time = NOW) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Records every transaction, and can run a hook before one is applied. */
class SpyStore extends MemoryStore {
  readonly transactions: WriteOp[][] = [];
  beforeTransact: ((ops: readonly WriteOp[]) => Promise<void>) | undefined;
  override async transact(ops: readonly WriteOp[]): Promise<void> {
    this.transactions.push([...ops]);
    const hook = this.beforeTransact;
    if (hook !== undefined) await hook(ops);
    return super.transact(ops);
  }
}

/** Every behaviour below holds with presented tokens served from memory as well as read afresh each time. */
let presentedTokenCacheMs = 0;

function setup(options: { defaultTtlSeconds?: number; maxTtlSeconds?: number } = {}) {
  const store = new SpyStore();
  const clock = new FakeClock();
  const tokens = new TokenService({ store, clock, presentedTokenCacheMs, ...options });
  return { store, clock, tokens };
}

async function withRoot(options: { defaultTtlSeconds?: number; maxTtlSeconds?: number } = {}) {
  const context = setup(options);
  const root = await context.tokens.createRoot();
  return { ...context, root };
}

/** Every item of every token partition, read through the port. */
async function allTokenItems(store: MemoryStore, accessors: readonly string[]): Promise<StoredItem[]> {
  const partitions = [
    TOKEN_PARTITIONS.tokens,
    TOKEN_PARTITIONS.accessors,
    ...accessors.map((accessor) => TOKEN_PARTITIONS.childrenPrefix + accessor),
  ];
  const items: StoredItem[] = [];
  for (const pk of partitions) items.push(...(await store.query(pk, { limit: 1000 })).items);
  return items;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

async function expectInvalidToken(promise: Promise<unknown>): Promise<void> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(UnauthenticatedError);
  expect((err as Error).message).toBe('invalid or expired token');
}

describe.each([0, 30_000])('Class: TokenService (presentedTokenCacheMs %i)', (cacheMs) => {
  beforeEach(() => {
    presentedTokenCacheMs = cacheMs;
  });

  describe('createRoot', () => {
    it('creates a non-expiring root-policy token that authenticates', async () => {
      const { tokens, root } = await withRoot();
      expect(root.token).toMatch(/^cft_[A-Za-z0-9_-]{43}$/);
      expect(root.record).toMatchObject({
        displayName: 'root',
        policies: ['root'],
        expiresAt: null,
        maxExpiresAt: null,
        numUses: 0,
        orphan: true,
      });
      expect(root.record.accessor).toMatch(/^acc_[A-Za-z0-9_-]{24}$/);
      expect(await tokens.authenticate(root.token)).toEqual(root.record);
    });
  });

  describe('create and authenticate', () => {
    it('round-trips a child token and maps it to a principal', async () => {
      const { tokens, root } = await withRoot();
      const child = await tokens.create(root.record, {
        policies: ['app', 'ops', 'app'],
        ttl: '1h',
        displayName: 'ci',
        meta: { team: 'payments' },
      });
      expect(child.token).not.toBe(root.token);
      const record = await tokens.authenticate(child.token);
      expect(record).toEqual(child.record);
      expect(record).toMatchObject({
        policies: ['app', 'ops'],
        expiresAt: NOW + HOUR,
        ttlSeconds: 3600,
        renewable: true,
        parentAccessor: root.record.accessor,
        orphan: false,
      });
      // displayName and meta are labels: the child acts as its parent's identity.
      expect(record).toMatchObject({ displayName: 'ci', meta: { team: 'payments' } });
      expect(tokens.toPrincipal(record)).toEqual({
        type: 'token',
        id: record.accessor,
        displayName: 'root',
        policies: ['app', 'ops'],
        metadata: {},
      });
    });

    it('inherits the parent policies and the default TTL when none are given', async () => {
      const { tokens, root } = await withRoot({ defaultTtlSeconds: 600 });
      const parent = await tokens.create(root.record, { policies: ['app', 'ops'] });
      const child = await tokens.create(parent.record);
      expect(child.record.policies).toEqual(['app', 'ops']);
      expect(child.record.expiresAt).toBe(NOW + 600_000);
      expect(child.record.displayName).toBe('token');
    });

    it('stores only the hash of the token, never the token itself', async () => {
      const { store, tokens, root } = await withRoot();
      const child = await tokens.create(root.record, { policies: ['app'] });
      const items = await allTokenItems(store, [root.record.accessor, child.record.accessor]);
      const dump = JSON.stringify(items);
      expect(items.length).toBeGreaterThanOrEqual(5);
      for (const token of [root.token, child.token]) {
        expect(dump).not.toContain(token);
        expect(dump).not.toContain(token.slice(4));
        expect(items.some((item) => item.pk === TOKEN_PARTITIONS.tokens && item.sk === hashToken(token))).toBe(true);
      }
    });

    it('writes the record, the accessor index and the child edge in one transaction', async () => {
      const { store, tokens, root } = await withRoot();
      store.transactions.length = 0;
      await tokens.create(root.record, { policies: ['app'] });
      expect(store.transactions).toHaveLength(1);
      const puts = store.transactions[0]!.filter((op) => op.type === 'put');
      expect(puts.map((op) => op.pk).sort()).toEqual(
        [
          TOKEN_PARTITIONS.accessors,
          `${TOKEN_PARTITIONS.childrenPrefix}${root.record.accessor}`,
          TOKEN_PARTITIONS.tokens,
        ].sort(),
      );
      expect(puts.every((op) => op.condition?.kind === 'absent')).toBe(true);
    });

    it('rejects malformed, unknown, expired and revoked tokens with the same message', async () => {
      const { tokens, clock, root } = await withRoot();
      const expiring = await tokens.create(root.record, { ttl: 60 });
      const revoked = await tokens.create(root.record);
      await tokens.revoke({ token: revoked.token });
      clock.advance(60_000);
      await expectInvalidToken(tokens.authenticate('not-a-token'));
      await expectInvalidToken(tokens.authenticate(''));
      await expectInvalidToken(tokens.authenticate(`cft_${'A'.repeat(43)}`));
      await expectInvalidToken(tokens.authenticate(expiring.token));
      await expectInvalidToken(tokens.authenticate(revoked.token));
    });

    it('rejects a token once its TTL has passed and revokes it lazily', async () => {
      const { tokens, clock, store, root } = await withRoot();
      const child = await tokens.create(root.record, { ttl: '30m' });
      clock.advance(30 * 60_000 - 1);
      await expect(tokens.authenticate(child.token)).resolves.toMatchObject({ accessor: child.record.accessor });
      clock.advance(1);
      await expectInvalidToken(tokens.authenticate(child.token));
      expect(await store.get(TOKEN_PARTITIONS.tokens, hashToken(child.token))).toBeUndefined();
      expect(await store.get(TOKEN_PARTITIONS.accessors, child.record.accessor)).toBeUndefined();
    });
  });

  describe('identity', () => {
    it('gives the root token the identity root', async () => {
      const { tokens, root } = await withRoot();
      expect(root.record.identity).toEqual({ name: 'root', metadata: {} });
      expect(tokens.toPrincipal(root.record)).toMatchObject({ displayName: 'root', metadata: {} });
    });

    it('lets a root parent give a child another identity, which its own children inherit whatever labels they ask for', async () => {
      const { tokens, root } = await withRoot();
      const bob = await tokens.create(root.record, {
        policies: ['users'],
        identity: { name: 'bob', metadata: { team: 'blue' } },
      });
      expect(tokens.toPrincipal(bob.record)).toMatchObject({ displayName: 'bob', metadata: { team: 'blue' } });
      const child = await tokens.create(bob.record, { displayName: 'alice', meta: { team: 'red' } });
      expect(child.record).toMatchObject({ displayName: 'alice', meta: { team: 'red' } });
      expect(tokens.toPrincipal(child.record)).toMatchObject({ displayName: 'bob', metadata: { team: 'blue' } });
      const grandchild = await tokens.create(child.record, { displayName: 'carol' });
      expect(tokens.toPrincipal(grandchild.record)).toMatchObject({ displayName: 'bob', metadata: { team: 'blue' } });
    });

    it('refuses another identity from a non-root parent, but accepts its own spelled out', async () => {
      const { tokens, root } = await withRoot();
      const bob = await tokens.create(root.record, {
        policies: ['users'],
        identity: { name: 'bob', metadata: { team: 'blue' } },
      });
      const others: { name: string; metadata?: Record<string, string> }[] = [
        { name: 'alice' },
        { name: 'bob', metadata: { team: 'red' } },
        { name: 'bob' },
        { name: 'bob', metadata: { team: 'blue', admin: 'yes' } },
      ];
      for (const identity of others) {
        const err = await rejection(tokens.create(bob.record, { identity }));
        expect(err).toBeInstanceOf(PermissionDeniedError);
        expect((err as Error).message).toContain('another identity');
      }
      const same = await tokens.create(bob.record, { identity: { name: 'bob', metadata: { team: 'blue' } } });
      expect(tokens.toPrincipal(same.record).displayName).toBe('bob');
    });

    it("carries a non-root parent's chain as ceilings, and none from a root parent", async () => {
      const { tokens, root } = await withRoot();
      const bob = await tokens.create(root.record, { policies: ['a', 'b'], identity: { name: 'bob', metadata: {} } });
      expect(tokens.toPrincipal(bob.record).ceilings).toBeUndefined();
      const child = await tokens.create(bob.record, { policies: ['a'] });
      const grandchild = await tokens.create(child.record, { policies: ['a'] });
      expect(tokens.toPrincipal(grandchild.record).ceilings).toEqual([
        { id: bob.record.accessor, name: 'bob', metadata: {}, policies: ['a', 'b'] },
        { id: child.record.accessor, name: 'bob', metadata: {}, policies: ['a'] },
      ]);
    });

    it('lets a parent holding root next to other policies bound its children too (their rules still bind it)', async () => {
      const { tokens, root } = await withRoot();
      const mixed = await tokens.create(root.record, { policies: ['no-prod', 'root'] });
      const child = await tokens.create(mixed.record, { policies: ['root'], identity: { name: 'alice' } });
      expect(tokens.toPrincipal(child.record).ceilings).toEqual([
        { id: mixed.record.accessor, name: 'root', metadata: {}, policies: ['no-prod', 'root'] },
      ]);
    });

    it('refuses a chain whose ceilings would outgrow MAX_CEILINGS_CHARS, before storing anything', async () => {
      const { tokens, root, store } = await withRoot();
      const metadata = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'.repeat(512)]));
      let parent = await tokens.create(root.record, { policies: ['a'], identity: { name: 'bob', metadata } });
      const levels = Math.floor(MAX_CEILINGS_CHARS / JSON.stringify(metadata).length);
      for (let depth = 0; depth < levels; depth++) parent = await tokens.create(parent.record);
      const writes = store.transactions.length;
      const err = await rejection(tokens.create(parent.record));
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toContain('too large');
      expect(store.transactions.length).toBe(writes);
    });

    it('refuses a chain of non-root creators longer than MAX_CEILINGS', async () => {
      const { tokens, root } = await withRoot();
      let parent = await tokens.create(root.record, { policies: ['a'] });
      for (let depth = 0; depth < MAX_CEILINGS; depth++) parent = await tokens.create(parent.record);
      const err = await rejection(tokens.create(parent.record));
      expect(err).toBeInstanceOf(PermissionDeniedError);
    });

    it('trusts the labels of a record written before identities only on a root-policy token', () => {
      const { tokens } = setup();
      const legacy = (policies: string[]): TokenRecord => ({
        accessor: 'acc_legacy',
        displayName: 'alice',
        policies,
        createdAt: NOW,
        expiresAt: null,
        maxExpiresAt: null,
        ttlSeconds: 0,
        renewable: false,
        numUses: 0,
        usesRemaining: 0,
        orphan: true,
        meta: { team: 'red' },
      });
      expect(tokens.toPrincipal(legacy(['root']))).toMatchObject({ displayName: 'alice', metadata: { team: 'red' } });
      const principal = tokens.toPrincipal(legacy(['users']));
      expect(principal.displayName).toBe('legacy:alice');
      expect(principal.metadata).toEqual({});
    });
  });

  describe('create rules', () => {
    it('lets a non-root parent grant only a subset of its own policies', async () => {
      const { tokens, root } = await withRoot();
      const parent = await tokens.create(root.record, { policies: ['app', 'ops'] });
      await expect(tokens.create(parent.record, { policies: ['app'] })).resolves.toMatchObject({
        record: { policies: ['app'] },
      });
      const err = await rejection(tokens.create(parent.record, { policies: ['app', 'admin', 'root'] }));
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toContain('admin, root');
    });

    it('lets a root parent grant any policy', async () => {
      const { tokens, root } = await withRoot();
      const child = await tokens.create(root.record, { policies: ['anything', 'root'] });
      expect(child.record.policies).toEqual(['anything', 'root']);
    });

    it('creates orphans only for a root-policy parent', async () => {
      const { tokens, root } = await withRoot();
      const orphan = await tokens.create(root.record, { policies: ['app'], noParent: true });
      expect(orphan.record.orphan).toBe(true);
      expect(orphan.record.parentAccessor).toBeUndefined();
      await expect(tokens.create(orphan.record, { noParent: true })).rejects.toBeInstanceOf(PermissionDeniedError);
    });

    it('rejects a TTL above the max TTL and an explicit max TTL above the service max', async () => {
      const { tokens, root } = await withRoot({ maxTtlSeconds: 7200 });
      await expect(tokens.create(root.record, { ttl: '3h' })).rejects.toBeInstanceOf(ValidationError);
      await expect(tokens.create(root.record, { explicitMaxTtl: '3h' })).rejects.toBeInstanceOf(ValidationError);
      await expect(tokens.create(root.record, { ttl: '1h', explicitMaxTtl: '30m' })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(tokens.create(root.record, { ttl: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(tokens.create(root.record, { ttl: 'forever' })).rejects.toBeInstanceOf(ValidationError);
    });

    it('caps the default TTL by the explicit max TTL', async () => {
      const { tokens, root } = await withRoot();
      const child = await tokens.create(root.record, { explicitMaxTtl: '10m' });
      expect(child.record).toMatchObject({ expiresAt: NOW + 600_000, maxExpiresAt: NOW + 600_000 });
    });

    it("caps a child's expiry and max expiry at its parent's, but not an orphan's", async () => {
      const { tokens, clock, root } = await withRoot();
      const parent = await tokens.create(root.record, { ttl: '1h', explicitMaxTtl: '2h' });
      const child = await tokens.create(parent.record, { ttl: '2h', explicitMaxTtl: '5h' });
      expect(child.record).toMatchObject({ expiresAt: NOW + HOUR, maxExpiresAt: NOW + 2 * HOUR });
      clock.advance(HOUR);
      await expectInvalidToken(tokens.authenticate(child.token));
      const orphan = await tokens.create(root.record, { ttl: '2h', noParent: true });
      expect(orphan.record.expiresAt).toBe(clock.now() + 2 * HOUR);
    });

    it('rejects negative or fractional use counts', async () => {
      const { tokens, root } = await withRoot();
      await expect(tokens.create(root.record, { numUses: -1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(tokens.create(root.record, { numUses: 1.5 })).rejects.toBeInstanceOf(ValidationError);
    });

    it('refuses children of a use-limited token', async () => {
      const { tokens, root } = await withRoot();
      const limited = await tokens.create(root.record, { numUses: 3 });
      await expect(tokens.create(limited.record)).rejects.toBeInstanceOf(PermissionDeniedError);
    });

    it('refuses a child of a parent that was revoked after it authenticated', async () => {
      const { tokens, root } = await withRoot();
      const parent = await tokens.create(root.record);
      const authenticated = await tokens.authenticate(parent.token);
      await tokens.revoke({ accessor: parent.record.accessor });
      await expectInvalidToken(tokens.create(authenticated));
    });
  });

  describe('num_uses', () => {
    it('allows exactly the granted number of uses under concurrency', async () => {
      const { tokens, store, root } = await withRoot();
      const limited = await tokens.create(root.record, { numUses: 5 });
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => tokens.authenticate(limited.token)));
      const succeeded = results.filter((result) => result.status === 'fulfilled');
      expect(succeeded).toHaveLength(5);
      const remaining = succeeded.map((result) => result.value.usesRemaining).sort();
      expect(remaining).toEqual([0, 1, 2, 3, 4]);
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(UnauthenticatedError);
      }
      await expectInvalidToken(tokens.authenticate(limited.token));
      expect(await store.get(TOKEN_PARTITIONS.tokens, hashToken(limited.token))).toBeUndefined();
    });

    it('lets the last use complete a lookup, then revokes the token', async () => {
      const { tokens, root } = await withRoot();
      const once = await tokens.create(root.record, { numUses: 1 });
      const record = await tokens.authenticate(once.token);
      expect(record.usesRemaining).toBe(0);
      await expect(tokens.lookup({ accessor: record.accessor })).resolves.toMatchObject({ usesRemaining: 0 });
      await expectInvalidToken(tokens.authenticate(once.token));
      await expect(tokens.lookup({ accessor: record.accessor })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('does not count uses of unlimited tokens', async () => {
      const { tokens, store, root } = await withRoot();
      store.transactions.length = 0;
      await tokens.authenticate(root.token);
      await tokens.authenticate(root.token);
      expect(store.transactions).toHaveLength(0);
    });
  });

  describe('lookup', () => {
    it('finds a token by token or accessor without revealing the token or its hash', async () => {
      const { tokens, root } = await withRoot();
      const child = await tokens.create(root.record, { policies: ['app'] });
      const byToken = await tokens.lookup({ token: child.token });
      const byAccessor = await tokens.lookup({ accessor: child.record.accessor });
      expect(byToken).toEqual(child.record);
      expect(byAccessor).toEqual(child.record);
      const dump = JSON.stringify(byToken);
      expect(dump).not.toContain(child.token);
      expect(dump).not.toContain(hashToken(child.token));
    });

    it('reports unknown and expired tokens as not found', async () => {
      const { tokens, clock, root } = await withRoot();
      const child = await tokens.create(root.record, { ttl: 60 });
      await expect(tokens.lookup({ accessor: 'acc_nope' })).rejects.toBeInstanceOf(NotFoundError);
      await expect(tokens.lookup({ token: 'garbage' })).rejects.toBeInstanceOf(NotFoundError);
      clock.advance(60_000);
      await expect(tokens.lookup({ accessor: child.record.accessor })).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('renew', () => {
    it('extends from now by the increment, capped at the max TTL', async () => {
      const { tokens, clock, root } = await withRoot();
      const child = await tokens.create(root.record, { ttl: '1h', explicitMaxTtl: '3h' });
      clock.advance(30 * 60_000);
      const renewed = await tokens.renew({ token: child.token }, '2h');
      expect(renewed.expiresAt).toBe(clock.now() + 2 * HOUR);
      clock.advance(HOUR);
      const capped = await tokens.renew({ accessor: child.record.accessor }, '2h');
      expect(capped.expiresAt).toBe(NOW + 3 * HOUR);
      expect(await tokens.lookup({ accessor: child.record.accessor })).toMatchObject({ expiresAt: NOW + 3 * HOUR });
    });

    it('uses the token TTL as the default increment', async () => {
      const { tokens, clock, root } = await withRoot();
      const child = await tokens.create(root.record, { ttl: '10m' });
      clock.advance(5 * 60_000);
      expect((await tokens.renew({ accessor: child.record.accessor })).expiresAt).toBe(clock.now() + 10 * 60_000);
    });

    it("caps a child's renewal at its parent's current expiry", async () => {
      const { tokens, root } = await withRoot();
      const parent = await tokens.create(root.record, { ttl: '1h' });
      const child = await tokens.create(parent.record, { ttl: '30m' });
      expect((await tokens.renew({ accessor: child.record.accessor }, '5h')).expiresAt).toBe(NOW + HOUR);
    });

    it('refuses to renew a non-renewable token', async () => {
      const { tokens, root } = await withRoot();
      const child = await tokens.create(root.record, { renewable: false });
      await expect(tokens.renew({ token: child.token })).rejects.toBeInstanceOf(InvalidRequestError);
    });

    it('refuses to renew an expired token', async () => {
      const { tokens, clock, root } = await withRoot();
      const child = await tokens.create(root.record, { ttl: 60 });
      clock.advance(60_000);
      await expect(tokens.renew({ token: child.token })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('returns a token without expiry unchanged', async () => {
      const { tokens, store, root } = await withRoot();
      store.transactions.length = 0;
      expect(await tokens.renew({ token: root.token }, '1h')).toEqual(root.record);
      expect(store.transactions).toHaveLength(0);
    });
  });

  describe('revoke', () => {
    it('revokes by token and by accessor', async () => {
      const { tokens, root } = await withRoot();
      const first = await tokens.create(root.record);
      const second = await tokens.create(root.record);
      await tokens.revoke({ token: first.token });
      await tokens.revoke({ accessor: second.record.accessor });
      await expectInvalidToken(tokens.authenticate(first.token));
      await expectInvalidToken(tokens.authenticate(second.token));
      await expect(tokens.lookup({ accessor: first.record.accessor })).rejects.toBeInstanceOf(NotFoundError);
      await expect(tokens.revoke({ accessor: first.record.accessor })).rejects.toBeInstanceOf(NotFoundError);
      await expect(tokens.authenticate(root.token)).resolves.toMatchObject({ policies: ['root'] });
    });

    it('revokes children and grandchildren but not orphans', async () => {
      const { tokens, store, root } = await withRoot();
      const parent = await tokens.create(root.record);
      const child = await tokens.create(parent.record);
      const grandchild = await tokens.create(child.record);
      const orphan = await tokens.create(parent.record, { noParent: true });
      const sibling = await tokens.create(root.record);
      await tokens.revoke({ accessor: parent.record.accessor });
      for (const gone of [parent, child, grandchild]) await expectInvalidToken(tokens.authenticate(gone.token));
      await expect(tokens.authenticate(orphan.token)).resolves.toMatchObject({ orphan: true });
      await expect(tokens.authenticate(sibling.token)).resolves.toMatchObject({ accessor: sibling.record.accessor });
      const edges = await allTokenItems(store, [parent.record.accessor, child.record.accessor]);
      expect(edges.filter((item) => item.pk.startsWith(TOKEN_PARTITIONS.childrenPrefix))).toEqual([]);
    });

    it('skips children that are already revoked', async () => {
      const { tokens, store, root } = await withRoot();
      const parent = await tokens.create(root.record);
      const child = await tokens.create(parent.record);
      const other = await tokens.create(parent.record);
      // An interrupted revocation can leave an edge whose token is gone.
      await store.transact([
        { type: 'delete', pk: TOKEN_PARTITIONS.tokens, sk: hashToken(child.token) },
        { type: 'delete', pk: TOKEN_PARTITIONS.accessors, sk: child.record.accessor },
      ]);
      await tokens.revoke({ token: parent.token });
      await expectInvalidToken(tokens.authenticate(other.token));
      expect((await store.query(TOKEN_PARTITIONS.childrenPrefix + parent.record.accessor)).items).toEqual([]);
    });

    it('revokes a large tree in transactions of at most 100 operations', async () => {
      const { tokens, store, root } = await withRoot();
      const parent = await tokens.create(root.record);
      const children = [];
      for (let i = 0; i < 45; i++) children.push(await tokens.create(parent.record));
      store.transactions.length = 0;
      await tokens.revoke({ accessor: parent.record.accessor });
      expect(store.transactions.length).toBeGreaterThan(1);
      expect(store.transactions.every((ops) => ops.length <= MAX_TRANSACTION_OPS)).toBe(true);
      for (const child of children) await expectInvalidToken(tokens.authenticate(child.token));
      await expectInvalidToken(tokens.authenticate(parent.token));
    });

    it('also revokes a child committed while the revocation runs', async () => {
      const { tokens, store, root } = await withRoot();
      const parent = await tokens.create(root.record);
      await tokens.create(parent.record);
      let late: { token: string; record: TokenRecord } | undefined;
      store.beforeTransact = async (ops) => {
        if (late !== undefined || !ops.some((op) => op.type === 'delete')) return;
        store.beforeTransact = undefined;
        late = await tokens.create(parent.record);
      };
      await tokens.revoke({ accessor: parent.record.accessor });
      expect(late).toBeDefined();
      await expectInvalidToken(tokens.authenticate(late!.token));
    });
  });

  describe('revokeOrphan', () => {
    it('revokes only the token and turns its children into orphans', async () => {
      const { tokens, root } = await withRoot();
      const parent = await tokens.create(root.record);
      const child = await tokens.create(parent.record);
      const grandchild = await tokens.create(child.record);
      await tokens.revokeOrphan({ accessor: parent.record.accessor });
      await expectInvalidToken(tokens.authenticate(parent.token));
      const survivor = await tokens.authenticate(child.token);
      expect(survivor.orphan).toBe(true);
      expect(survivor.parentAccessor).toBeUndefined();
      expect(await tokens.authenticate(grandchild.token)).toMatchObject({
        orphan: false,
        parentAccessor: child.record.accessor,
      });
      // The grandchild is still attached to its own parent.
      await tokens.revoke({ token: child.token });
      await expectInvalidToken(tokens.authenticate(grandchild.token));
    });

    it('reports an unknown token as not found', async () => {
      const { tokens } = setup();
      await expect(tokens.revokeOrphan({ accessor: 'acc_unknown' })).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('constructor', () => {
    it('rejects non-positive TTL settings', () => {
      const store = new MemoryStore();
      const clock = new FakeClock();
      expect(() => new TokenService({ store, clock, maxTtlSeconds: 0 })).toThrow(ValidationError);
      expect(() => new TokenService({ store, clock, defaultTtlSeconds: -5 })).toThrow(ValidationError);
    });
  });
});
