import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { LimitExceededError, NotFoundError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import { LEASE_PK, type LeaseRecord, type ProviderRegistry } from '../../../../lambdas/core/leases/lease-types.ts';
import type { Store } from '../../../../lambdas/core/ports/store.ts';
import { waitFor } from '../../../support/wait-for.ts';
import { FakeClock } from '../secrets/fixtures.ts';
import {
  FakeDatabaseProvider,
  fakeRegistry,
  unusedAwsProvider,
  unusedOAuthProvider,
  unusedSshProvider,
} from './fake-provider.ts';

const SECOND = 1000;

function setup(options: Partial<ConstructorParameters<typeof LeaseService>[0]> = {}) {
  const store = options.store ?? new MemoryStore();
  const clock = new FakeClock();
  const db = new FakeDatabaseProvider();
  db.roles.set('app', { defaultTtlSeconds: 60, maxTtlSeconds: 300 });
  db.roles.set('other', { defaultTtlSeconds: 60, maxTtlSeconds: 300 });
  const leases = new LeaseService({ store, clock, providers: fakeRegistry(db), retryBaseMs: 1000, ...options });
  const issue = (role = 'app', principalId = 'alice', ttlSeconds?: number) =>
    leases.issue({ kind: 'database', role, principalId, ttlSeconds });
  return { store, clock, db, leases, issue };
}

describe('Class: LeaseService', () => {
  describe('issue', () => {
    it('ends the lease with a credential its target ends sooner, and no renewal moves it past that', async () => {
      const { issue, clock, db, leases } = setup();
      const issueAtTarget = db.issue.bind(db);
      // The target's own expiry (an access token's expires_in), before the role's 60 s and max 300 s.
      db.issue = async (...args) => ({ ...(await issueAtTarget(...args)), endsAt: clock.now() + 30_000 });
      const { lease } = await issue();
      expect(lease).toMatchObject({ expiresAt: clock.now() + 30_000, maxExpiresAt: clock.now() + 30_000 });
      expect(await leases.renew(lease.leaseId, 300)).toMatchObject({ expiresAt: clock.now() + 30_000, capped: true });
    });

    it('prefixes the lease id with the engine and role path and records TTL and max TTL', async () => {
      const { issue, clock, db } = setup();
      const { lease, credential } = await issue();
      expect(lease.leaseId).toMatch(/^database\/creds\/app\/[a-f0-9]{24}$/);
      expect(lease.state).toBe('active');
      expect(lease.expiresAt).toBe(clock.now() + 60 * SECOND);
      expect(lease.maxExpiresAt).toBe(clock.now() + 300 * SECOND);
      expect(db.users.has(credential.username)).toBe(true);
    });

    it('caps a requested TTL at the role max TTL', async () => {
      const { issue, clock } = setup();
      const { lease } = await issue('app', 'alice', 10_000);
      expect(lease.expiresAt).toBe(clock.now() + 300 * SECOND);
    });

    it('refuses an unknown role without reserving quota', async () => {
      const { issue, leases } = setup();
      await expect(issue('nope')).rejects.toBeInstanceOf(NotFoundError);
      expect((await leases.list()).leases).toEqual([]);
    });

    it('never stores the credential, only the handle', async () => {
      const { issue, store } = setup();
      const { credential } = await issue();
      const dump = JSON.stringify(await (store as MemoryStore).query(LEASE_PK));
      expect(dump).not.toContain(credential.password);
    });

    it('releases the reservation when the provider fails to issue', async () => {
      const { leases, db } = setup({ maxLeasesPerRole: 1 });
      db.issue = async () => {
        throw new Error('target down');
      };
      await expect(leases.issue({ kind: 'database', role: 'app', principalId: 'a' })).rejects.toThrow('target down');
      expect((await leases.list()).leases).toEqual([]);
    });
  });

  describe('quotas', () => {
    it('refuses a lease beyond the per-role quota with a message naming the role and the limit', async () => {
      const { issue, leases } = setup({ maxLeasesPerRole: 2 });
      const first = await issue('app', 'alice');
      await issue('app', 'bob');
      const refused = issue('app', 'carol');
      await expect(refused).rejects.toBeInstanceOf(LimitExceededError);
      await expect(refused).rejects.toThrow('role database/creds/app already has 2 live leases, its limit of 2');
      // Other roles are not affected, and revoking frees a slot.
      await issue('other', 'carol');
      await leases.revoke(first.lease.leaseId);
      await issue('app', 'carol');
    });

    it("honours a role's own max_leases over the default", async () => {
      const { issue, db } = setup({ maxLeasesPerRole: 100 });
      db.roles.set('app', { defaultTtlSeconds: 60, maxTtlSeconds: 300, maxLeases: 1 });
      await issue();
      await expect(issue()).rejects.toBeInstanceOf(LimitExceededError);
    });

    it('refuses a lease beyond the per-principal quota across roles', async () => {
      const { issue } = setup({ maxLeasesPerPrincipal: 2 });
      await issue('app', 'alice');
      await issue('other', 'alice');
      await expect(issue('app', 'alice')).rejects.toThrow('the caller already holds 2 live leases, its limit of 2');
      await issue('app', 'bob');
    });

    it('holds under concurrent issues', async () => {
      const { issue } = setup({ maxLeasesPerRole: 5 });
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => issue('app', `p${i}`)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    });
  });

  describe('renew', () => {
    it('extends from now, capped by the max TTL, and tells the provider', async () => {
      const { issue, leases, clock, db } = setup();
      const { lease } = await issue();
      clock.advance(50 * SECOND);
      const renewed = await leases.renew(lease.leaseId, 100);
      expect(renewed.expiresAt).toBe(clock.now() + 100 * SECOND);
      expect(renewed.capped).toBe(false);
      expect(db.renewed.at(-1)?.expiresAt).toBe(renewed.expiresAt);
      clock.advance(90 * SECOND);
      const capped = await leases.renew(lease.leaseId, 1000);
      expect(capped.expiresAt).toBe(lease.maxExpiresAt);
      expect(capped.capped).toBe(true);
    });

    it('defaults the increment to the TTL the lease was issued with', async () => {
      const { issue, leases, clock } = setup();
      const { lease } = await issue('app', 'alice', 30);
      clock.advance(20 * SECOND);
      expect((await leases.renew(lease.leaseId)).expiresAt).toBe(clock.now() + 30 * SECOND);
    });

    it('refuses to renew an expired lease', async () => {
      const { issue, leases, clock } = setup();
      const { lease } = await issue();
      clock.advance(61 * SECOND);
      await expect(leases.renew(lease.leaseId)).rejects.toThrow('is expired');
    });

    it('moves the expiry: the sweeper does not revoke a renewed lease at its old expiry', async () => {
      const { issue, leases, clock, db } = setup();
      const { lease, credential } = await issue();
      clock.advance(50 * SECOND);
      await leases.renew(lease.leaseId, 120);
      clock.advance(20 * SECOND);
      await leases.sweep();
      expect(db.users.has(credential.username)).toBe(true);
      clock.advance(101 * SECOND);
      await leases.sweep();
      expect(db.users.has(credential.username)).toBe(false);
    });
  });

  describe('revoke', () => {
    it('revokes at the target and deletes the lease', async () => {
      const { issue, leases, db } = setup();
      const { lease, credential } = await issue();
      expect(await leases.revoke(lease.leaseId)).toEqual({ leaseId: lease.leaseId, revoked: true });
      expect(db.users.has(credential.username)).toBe(false);
      await expect(leases.lookup(lease.leaseId)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('persists the intent (state revoking) before the target is touched', async () => {
      const { issue, leases, db } = setup();
      const { lease } = await issue();
      const seen: string[] = [];
      db.onRevoke = async () => {
        seen.push((await leases.lookup(lease.leaseId)).state);
      };
      await leases.revoke(lease.leaseId);
      expect(seen).toEqual(['revoking']);
    });

    it('rejects a malformed lease id', async () => {
      const { leases } = setup();
      await expect(leases.revoke('../../etc')).rejects.toBeInstanceOf(ValidationError);
    });

    it('revoke-prefix revokes a subtree and nothing else', async () => {
      const { issue, leases, db } = setup();
      const a1 = await issue('app');
      const a2 = await issue('app');
      const b = await issue('other');
      expect(await leases.revokePrefix('database/creds/app/')).toEqual({ revoked: 2, failed: 0 });
      expect(db.users.has(a1.credential.username) || db.users.has(a2.credential.username)).toBe(false);
      expect(db.users.has(b.credential.username)).toBe(true);
      expect((await leases.list()).leases.map((l) => l.leaseId)).toEqual([b.lease.leaseId]);
    });

    it('never revokes a lease twice when the sweeper runs during a bulk revocation', async () => {
      // A store whose commits take an event-loop turn, as a durable one does, so the sweeper can interleave.
      const inner = new MemoryStore();
      const store: Store = {
        get: (pk, sk) => inner.get(pk, sk),
        query: (pk, options) => inner.query(pk, options),
        transact: async (ops) => {
          await new Promise((resolve) => setImmediate(resolve));
          return inner.transact(ops);
        },
        close: () => inner.close(),
      };
      const { issue, leases, db } = setup({ batchSize: 10, store });
      for (let i = 0; i < 50; i++) await issue('app', `p${i}`);
      const job = leases.revokePrefix('database/creds/app/');
      let finished = false;
      void job.finally(() => {
        finished = true;
      });
      while (!finished) {
        await leases.sweep();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await job).toEqual({ revoked: 50, failed: 0 });
      expect(db.revokeCalls).toBe(50);
    });

    it('revokes in batches that let other work run in between', async () => {
      const { issue, leases } = setup({ maxLeasesPerRole: 5000, maxLeasesPerPrincipal: 5000, batchSize: 100 });
      for (let i = 0; i < 1000; i++) await issue();
      let ticks = 0;
      let running = true;
      const tick = () => {
        ticks++;
        if (running) setImmediate(tick);
      };
      setImmediate(tick);
      const outcome = await leases.revokePrefix('database/creds/');
      running = false;
      expect(outcome).toEqual({ revoked: 1000, failed: 0 });
      // At least one turn of the event loop per batch of 100.
      expect(ticks).toBeGreaterThanOrEqual(10);
    });
  });

  describe('failed revocation', () => {
    it('keeps the lease revoking with last error and attempts, retries with backoff, then succeeds', async () => {
      const { issue, leases, db, clock } = setup();
      const { lease, credential } = await issue();
      db.failRevoke = new Error('connect ECONNREFUSED 127.0.0.1:5432');
      const outcome = await leases.revoke(lease.leaseId);
      expect(outcome.revoked).toBe(false);
      expect(outcome.lease).toMatchObject({
        state: 'revoking',
        attempts: 1,
        lastError: 'connect ECONNREFUSED 127.0.0.1:5432',
      });
      const failed = await leases.list({ failed: true });
      expect(failed.leases.map((l) => [l.leaseId, l.attempts])).toEqual([[lease.leaseId, 1]]);

      // Not retried before its backoff is due.
      const callsBefore = db.revokeCalls;
      await leases.sweep();
      expect(db.revokeCalls).toBe(callsBefore);
      clock.advance(2 * SECOND);
      await leases.sweep();
      expect((await leases.lookup(lease.leaseId)).attempts).toBe(2);

      db.failRevoke = undefined;
      clock.advance(10 * SECOND);
      await leases.sweep();
      expect(db.users.has(credential.username)).toBe(false);
      expect((await leases.list({ failed: true })).leases).toEqual([]);
      await expect(leases.lookup(lease.leaseId)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('releases quota only once the revocation succeeded', async () => {
      const { issue, leases, db, clock } = setup({ maxLeasesPerRole: 1 });
      const { lease } = await issue();
      db.failRevoke = new Error('down');
      await leases.revoke(lease.leaseId);
      await expect(issue()).rejects.toBeInstanceOf(LimitExceededError);
      db.failRevoke = undefined;
      clock.advance(5 * SECOND);
      await leases.sweep();
      await issue();
    });
  });

  describe('sweep', () => {
    it('revokes expired leases at the target and leaves live ones', async () => {
      const { issue, leases, clock, db } = setup();
      const short = await issue('app', 'alice', 10);
      const long = await issue('app', 'alice', 100);
      clock.advance(11 * SECOND);
      expect(await leases.sweep()).toEqual({ revoked: 1, failed: 0, abandoned: 0 });
      expect(db.users.has(short.credential.username)).toBe(false);
      expect(db.users.has(long.credential.username)).toBe(true);
    });

    it('reads only the due index, never the lease partition', async () => {
      const inner = new MemoryStore();
      const partitions: string[] = [];
      const store: Store = {
        get: (pk, sk) => inner.get(pk, sk),
        query: (pk, options) => {
          partitions.push(pk);
          return inner.query(pk, options);
        },
        transact: (ops) => inner.transact(ops),
        close: () => inner.close(),
      };
      const { issue, leases, clock } = setup({ store });
      for (let i = 0; i < 20; i++) await issue();
      clock.advance(61 * SECOND);
      partitions.length = 0;
      expect((await leases.sweep()).revoked).toBe(20);
      expect(partitions).not.toContain(LEASE_PK);
    });

    it('completes, after a restart, a revocation whose intent was persisted before a crash', async () => {
      const store = new MemoryStore();
      const first = setup({ store });
      const { lease, credential } = await first.issue();
      // The crash: the intent is written, then the process dies while the target call hangs.
      first.db.onRevoke = () => new Promise<void>(() => {});
      void first.leases.revoke(lease.leaseId);
      await new Promise((resolve) => setImmediate(resolve));
      expect((await first.leases.lookup(lease.leaseId)).state).toBe('revoking');

      const db = first.db;
      db.onRevoke = undefined;
      const restarted = new LeaseService({ store, clock: first.clock, providers: fakeRegistry(db) });
      await restarted.sweep();
      expect(db.users.has(credential.username)).toBe(false);
      await expect(restarted.lookup(lease.leaseId)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('finishes a revoke-prefix job that a crash interrupted', async () => {
      const store = new MemoryStore();
      const first = setup({ store });
      await first.issue();
      await first.issue();
      await store.transact([
        { type: 'put', pk: 'lease-prefix-revoke', sk: 'database/creds/app/', data: { prefix: 'database/creds/app/' } },
      ]);
      const restarted = new LeaseService({ store, clock: first.clock, providers: fakeRegistry(first.db) });
      expect((await restarted.sweep()).revoked).toBe(2);
      expect(first.db.users.size).toBe(0);
    });

    it('abandons a lease whose issue a crash interrupted, releasing its quota', async () => {
      const store = new MemoryStore();
      const first = setup({ store, maxLeasesPerRole: 1, issueGraceMs: 30_000 });
      first.db.issue = () => new Promise(() => {});
      void first.issue();
      const record = await waitFor(
        'the lease to be reserved',
        async () => (await store.query<LeaseRecord>(LEASE_PK)).items[0]?.data,
      );
      expect(record.state).toBe('issuing');
      const db = new FakeDatabaseProvider();
      db.roles.set('app', { defaultTtlSeconds: 60, maxTtlSeconds: 300 });
      const restarted = new LeaseService({
        store,
        clock: first.clock,
        providers: fakeRegistry(db),
        maxLeasesPerRole: 1,
        issueGraceMs: 30_000,
      });
      expect((await restarted.sweep()).abandoned).toBe(0);
      first.clock.advance(31_000);
      expect((await restarted.sweep()).abandoned).toBe(1);
      await restarted.issue({ kind: 'database', role: 'app', principalId: 'alice' });
    });
  });

  describe('Type: ProviderRegistry', () => {
    it('is a compile error to leave a dynamic kind without a provider', () => {
      const database = new FakeDatabaseProvider();
      // @ts-expect-error -- 'aws', 'ssh' and 'oauth' are missing: every DynamicKind needs a provider.
      const incomplete = { database } satisfies ProviderRegistry;
      const swapped = {
        // @ts-expect-error -- a provider of the wrong kind does not fit the slot.
        database: unusedAwsProvider,
        aws: unusedAwsProvider,
        ssh: unusedSshProvider,
        oauth: unusedOAuthProvider,
      } satisfies ProviderRegistry;
      const complete = {
        database,
        aws: unusedAwsProvider,
        ssh: unusedSshProvider,
        oauth: unusedOAuthProvider,
      } satisfies ProviderRegistry;
      expect(Object.keys(incomplete)).toEqual(['database']);
      expect(swapped.database.kind).toBe('aws');
      expect(Object.keys(complete).sort()).toEqual(['aws', 'database', 'oauth', 'ssh']);
    });
  });
});
