import { describe, expect, it, vi } from 'vitest';
import {
  InvalidRequestError,
  LimitExceededError,
  NotFoundError,
  ThrottledError,
  ValidationError,
} from '../../../../lambdas/core/errors.ts';
import { MAX_TRANSACTION_OPS } from '../../../../lambdas/core/ports/store.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import type { SecretRecord } from '../../../../lambdas/core/secrets/secret-types.ts';
import { DAY, HOUR, setup, str } from './fixtures.ts';

describe('Class: SecretService', () => {
  describe('delete and restore', () => {
    it('schedules deletion 30 days out by default', async () => {
      const { secrets, clock } = setup();
      await secrets.create({ name: 's', value: str('v') });
      const deleted = await secrets.delete({ secretId: 's' });
      expect(deleted.deletionDate).toBe(clock.now() + 30 * DAY);
      const d = await secrets.describe({ secretId: 's' });
      expect(d.deletedAt).toBe(clock.now());
      expect(d.deletionDate).toBe(deleted.deletionDate);
    });

    it.each([6, 31, 7.5])('refuses a recovery window of %s days', async (days) => {
      const { secrets } = setup();
      await secrets.create({ name: 's' });
      await expect(secrets.delete({ secretId: 's', recoveryWindowDays: days })).rejects.toThrow(ValidationError);
    });

    it.each([7, 30])('accepts a recovery window of %s days', async (days) => {
      const { secrets, clock } = setup();
      await secrets.create({ name: 's' });
      const { deletionDate } = await secrets.delete({ secretId: 's', recoveryWindowDays: days });
      expect(deletionDate).toBe(clock.now() + days * DAY);
    });

    it('refuses a recovery window together with force', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's' });
      await expect(
        secrets.delete({ secretId: 's', recoveryWindowDays: 7, forceDeleteWithoutRecovery: true }),
      ).rejects.toThrow(/not both/);
    });

    it('refuses reads and writes while pending deletion, but describes', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('v') });
      await secrets.delete({ secretId: 's' });
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(InvalidRequestError);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(/marked for deletion/);
      await expect(secrets.put({ secretId: 's', value: str('w') })).rejects.toThrow(InvalidRequestError);
      await expect(secrets.create({ name: 's' })).rejects.toThrow(/scheduled for deletion/);
      expect((await secrets.describe({ secretId: 's' })).deletionDate).toBeDefined();
    });

    it('refuses to schedule a deletion twice, but allows forcing it', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('v') });
      await secrets.delete({ secretId: 's' });
      await expect(secrets.delete({ secretId: 's' })).rejects.toThrow(InvalidRequestError);
      await secrets.delete({ secretId: 's', forceDeleteWithoutRecovery: true });
      await expect(secrets.describe({ secretId: 's' })).rejects.toThrow(NotFoundError);
    });

    it('restores a secret pending deletion', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('v') });
      await secrets.delete({ secretId: 's' });
      await secrets.restore({ secretId: 's' });
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v'));
      const d = await secrets.describe({ secretId: 's' });
      expect(d.deletionDate).toBeUndefined();
      expect(d.deletedAt).toBeUndefined();
    });

    it('treats restoring a live secret as a no-op success', async () => {
      const { secrets, store } = setup();
      const { arn } = await secrets.create({ name: 's' });
      const rev = (await store.get('secrets', 's'))?.rev;
      await expect(secrets.restore({ secretId: 's' })).resolves.toEqual({ arn, name: 's' });
      expect((await store.get('secrets', 's'))?.rev).toBe(rev);
    });

    it('force-deletes the metadata and every version, in batches', async () => {
      // More versions than one transaction holds, all young: allowed only with a higher version limit.
      const { secrets, store } = setup({ maxDeprecatedVersions: 200 });
      const { arn } = await secrets.create({ name: 's', value: str('v0') });
      for (let i = 1; i <= 150; i++) await secrets.put({ secretId: 's', value: str(`v${i}`) });
      expect((await store.query(`secret-versions#${arn}`, { limit: 1000 })).items).toHaveLength(151);
      await secrets.delete({ secretId: 's', forceDeleteWithoutRecovery: true });
      expect(await store.get('secrets', 's')).toBeUndefined();
      expect((await store.query(`secret-versions#${arn}`)).items).toHaveLength(0);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(NotFoundError);
    });

    it('lets a force-deleted name be created again at once', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('old') });
      await secrets.delete({ secretId: 's', forceDeleteWithoutRecovery: true });
      await secrets.create({ name: 's', value: str('new') });
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('new'));
    });
  });

  describe('purgeExpired', () => {
    it('lets the event loop turn between pages, so requests are answered during a long pass', async () => {
      const { secrets, clock } = setup();
      for (let i = 0; i < 250; i++) await secrets.create({ name: `s-${String(i).padStart(3, '0')}` });
      await secrets.delete({ secretId: 's-249' });
      clock.advance(31 * DAY);
      let turns = 0;
      const pass = secrets.purgeExpired();
      // An in-memory store answers at once, as SQLite does: only the pass's own turns let this run before it ends.
      const count = () => {
        turns++;
        if (turns < 10) setImmediate(count);
      };
      setImmediate(count);
      expect(await pass).toBe(1);
      expect(turns).toBeGreaterThanOrEqual(2);
    });

    it('purges after the window and not before', async () => {
      const { secrets, store, clock } = setup();
      const { arn } = await secrets.create({ name: 's', value: str('v') });
      await secrets.create({ name: 'live', value: str('v') });
      await secrets.delete({ secretId: 's', recoveryWindowDays: 7 });
      clock.advance(7 * DAY - 1);
      expect(await secrets.purgeExpired()).toBe(0);
      expect(await store.get('secrets', 's')).toBeDefined();
      clock.advance(1);
      expect(await secrets.purgeExpired()).toBe(1);
      expect(await store.get('secrets', 's')).toBeUndefined();
      expect((await store.query(`secret-versions#${arn}`)).items).toHaveLength(0);
      expect((await secrets.get({ secretId: 'live' })).value).toEqual(str('v'));
    });

    it('reads a secret past its deletion date as absent before the purge runs', async () => {
      const { secrets, clock } = setup();
      await secrets.create({ name: 's', value: str('v') });
      await secrets.delete({ secretId: 's', recoveryWindowDays: 7 });
      clock.advance(7 * DAY);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(NotFoundError);
      await expect(secrets.describe({ secretId: 's' })).rejects.toThrow(NotFoundError);
      await expect(secrets.restore({ secretId: 's' })).rejects.toThrow(NotFoundError);
      expect((await secrets.list({ includePlannedDeletion: true })).entries).toEqual([]);
      const recreated = await secrets.create({ name: 's', value: str('new') });
      expect((await secrets.get({ secretId: recreated.arn })).value).toEqual(str('new'));
    });

    it('reads only the deletion-date index and what is due, once the store is indexed', async () => {
      const { secrets, store, clock } = setup();
      for (let i = 0; i < 300; i++) await secrets.create({ name: `s-${String(i).padStart(3, '0')}` });
      await secrets.delete({ secretId: 's-010', recoveryWindowDays: 7 });
      await secrets.delete({ secretId: 's-020', recoveryWindowDays: 30 });
      expect((await store.query('secrets-by-deletion')).items.map((i) => i.data.name)).toEqual(['s-010', 's-020']);
      expect(await secrets.purgeExpired()).toBe(0);
      clock.advance(8 * DAY);
      const queries = vi.spyOn(store, 'query');
      const gets = vi.spyOn(store, 'get');
      expect(await secrets.purgeExpired()).toBe(1);
      // No page of the secrets partition: the index up to the first entry not yet due, the one due record, and
      // the purged secret's own versions.
      expect(queries.mock.calls.map(([pk]) => pk.replace(/#.*/, '#…'))).toEqual([
        'secrets-by-deletion',
        'secret-versions#…',
      ]);
      expect(gets.mock.calls.map(([pk, sk]) => `${pk}/${sk}`)).toEqual(['secrets/s-010']);
      expect(await store.get('secrets', 's-010')).toBeUndefined();
      expect((await store.query('secrets-by-deletion')).items.map((i) => i.sk)).toEqual([
        expect.stringMatching(/^\d{13}\/s-020$/),
        'complete',
      ]);
    });

    it('removes the entry of a restored secret, and an entry its record no longer carries', async () => {
      const { secrets, store, clock } = setup();
      await secrets.create({ name: 'kept', value: str('v') });
      await secrets.delete({ secretId: 'kept', recoveryWindowDays: 7 });
      await secrets.restore({ secretId: 'kept' });
      expect((await store.query('secrets-by-deletion')).items).toEqual([]);
      // A stale entry (as a crash between two writers could leave): the purge drops it and leaves the secret alone.
      await store.transact([
        { type: 'put', pk: 'secrets-by-deletion', sk: `${String(clock.now()).padStart(13, '0')}/kept`, data: {} },
      ]);
      clock.advance(DAY);
      expect(await secrets.purgeExpired()).toBe(0);
      expect((await secrets.get({ secretId: 'kept' })).value).toEqual(str('v'));
      expect((await store.query('secrets-by-deletion')).items.map((i) => i.sk)).toEqual(['complete']);
    });

    it('indexes, once, the deletions a store scheduled before the index existed', async () => {
      const { secrets, store, clock } = setup();
      await secrets.create({ name: 'old', value: str('v') });
      await secrets.create({ name: 'live', value: str('v') });
      // A record scheduled for deletion by a version without the index: no entry, no marker.
      const item = await store.get<SecretRecord>('secrets', 'old');
      const deletionDate = clock.now() + 7 * DAY;
      await store.transact([
        { type: 'put', pk: 'secrets', sk: 'old', data: { ...item!.data, deletedAt: clock.now(), deletionDate } },
      ]);
      clock.advance(7 * DAY);
      expect(await secrets.purgeExpired()).toBe(1);
      expect(await store.get('secrets', 'old')).toBeUndefined();
      expect(await store.get('secrets-by-deletion', 'complete')).toBeDefined();
      // Indexed: a later sweep does not read the secrets partition again.
      const queries = vi.spyOn(store, 'query');
      expect(await secrets.purgeExpired()).toBe(0);
      expect(queries.mock.calls.map(([pk]) => pk)).toEqual(['secrets-by-deletion']);
      expect((await secrets.get({ secretId: 'live' })).value).toEqual(str('v'));
    });

    it('purges across pages of the secrets partition', async () => {
      const { secrets, clock } = setup();
      for (let i = 0; i < 1005; i++) await secrets.create({ name: `bulk/${String(i).padStart(4, '0')}` });
      for (let i = 0; i < 1005; i += 100)
        await secrets.delete({ secretId: `bulk/${String(i).padStart(4, '0')}`, recoveryWindowDays: 7 });
      clock.advance(8 * DAY);
      expect(await secrets.purgeExpired()).toBe(11);
    });
  });

  describe('pruning deprecated versions', () => {
    type Ctx = ReturnType<typeof setup>;

    /** `count` deprecated versions v0.. created now: each put moves AWSCURRENT, leaving the last two labelled. */
    async function withDeprecated(count: number, ctx: Ctx = setup()) {
      await ctx.secrets.create({ name: 's', value: str('v0') });
      for (let i = 1; i < count + 2; i++) await ctx.secrets.put({ secretId: 's', value: str(`v${i}`) });
      return ctx;
    }

    async function values(ctx: Ctx) {
      const { versions } = await ctx.secrets.listVersions({ secretId: 's', includeDeprecated: true, limit: 1000 });
      return Promise.all(
        versions.map(async (v) => {
          const got = await ctx.secrets.get({ secretId: 's', versionId: v.versionId });
          return got.value.kind === 'string' ? got.value.string : '';
        }),
      );
    }

    async function deprecatedCount(ctx: Ctx) {
      const { versions } = await ctx.secrets.listVersions({ secretId: 's', includeDeprecated: true, limit: 1000 });
      return versions.filter((v) => v.versionStages.length === 0).length;
    }

    it('prunes the oldest deprecated versions beyond 100 once older than 24 hours', async () => {
      const ctx = await withDeprecated(100);
      expect(await deprecatedCount(ctx)).toBe(100);
      ctx.clock.advance(DAY + 1);
      let latest = await ctx.secrets.put({ secretId: 's', value: str('t1') });
      for (let i = 2; i <= 6; i++) latest = await ctx.secrets.put({ secretId: 's', value: str(`t${i}`) });
      // Six puts deprecated six more; pruning kept the count at 100 by removing the six oldest.
      expect(await deprecatedCount(ctx)).toBe(100);
      const kept = await values(ctx);
      expect(kept).not.toContain('v5');
      expect(kept).toContain('v6');
      expect((await ctx.store.query(`secret-versions#${latest.arn}`, { limit: 1000 })).items).toHaveLength(102);
    });

    it('never prunes a labelled version, however old', async () => {
      const ctx = await withDeprecated(100);
      const { versions } = await ctx.secrets.listVersions({ secretId: 's', includeDeprecated: true, limit: 1000 });
      const oldest = versions[versions.length - 1]!.versionId;
      await ctx.secrets.updateVersionStage({ secretId: 's', versionStage: 'keep', moveToVersionId: oldest });
      ctx.clock.advance(DAY + 1);
      for (let i = 1; i <= 3; i++) await ctx.secrets.put({ secretId: 's', value: str(`t${i}`) });
      const kept = await values(ctx);
      expect(kept).toContain('v0');
      expect(kept).not.toContain('v1');
      expect(kept).toContain('v4');
      expect(await deprecatedCount(ctx)).toBe(100);
    });

    it('refuses a new version while 100 deprecated versions are younger than 24 hours, pruning none', async () => {
      const ctx = await withDeprecated(100);
      const before = await ctx.store.get('secrets', 's');
      await expect(ctx.secrets.put({ secretId: 's', value: str('one-too-many') })).rejects.toThrow(LimitExceededError);
      ctx.clock.advance(DAY - HOUR);
      await expect(ctx.secrets.put({ secretId: 's', value: str('one-too-many') })).rejects.toThrow(LimitExceededError);
      expect((await ctx.store.get('secrets', 's'))?.rev).toBe(before?.rev);
      expect(await deprecatedCount(ctx)).toBe(100);
      // Once the oldest is past 24 hours it can make room, one version per write.
      ctx.clock.advance(HOUR + 1);
      await ctx.secrets.put({ secretId: 's', value: str('room-again') });
      expect(await deprecatedCount(ctx)).toBe(100);
      expect(await values(ctx)).not.toContain('v0');
      expect((await ctx.secrets.get({ secretId: 's' })).value).toEqual(str('room-again'));
    });

    it('takes its limits from the options', async () => {
      const ctx = await withDeprecated(3, setup({ maxDeprecatedVersions: 3, minPruneAgeMs: HOUR }));
      await expect(ctx.secrets.put({ secretId: 's', value: str('x') })).rejects.toThrow(LimitExceededError);
      ctx.clock.advance(HOUR + 1);
      await ctx.secrets.put({ secretId: 's', value: str('x') });
      expect(await deprecatedCount(ctx)).toBe(3);
      expect(await values(ctx)).not.toContain('v0');
    });

    it('refuses limits that make no sense', () => {
      expect(() => setup({ maxDeprecatedVersions: 0 })).toThrow(RangeError);
      expect(() => setup({ minPruneAgeMs: -1 })).toThrow(RangeError);
      expect(() => setup({ maxLabelledVersions: 0 })).toThrow(RangeError);
    });

    it('caps the versions that carry a label, which pruning never removes', async () => {
      const ctx = setup({ maxLabelledVersions: 4 });
      await ctx.secrets.create({ name: 's', value: str('v0') });
      // AWSCURRENT and two labels of their own: four labelled versions (with AWSPREVIOUS), then no more.
      await ctx.secrets.put({ secretId: 's', value: str('v1'), versionStages: ['mine-1'] });
      await ctx.secrets.put({ secretId: 's', value: str('v2'), versionStages: ['mine-2'] });
      await ctx.secrets.put({ secretId: 's', value: str('v3') });
      await expect(ctx.secrets.put({ secretId: 's', value: str('v4'), versionStages: ['mine-3'] })).rejects.toThrow(
        LimitExceededError,
      );
      // Moving a label that exists creates no labelled version: still allowed.
      await ctx.secrets.put({ secretId: 's', value: str('v4'), versionStages: ['mine-1'] });
      expect((await ctx.secrets.get({ secretId: 's', versionStage: 'mine-1' })).value).toEqual(str('v4'));
    });

    it('prunes only old versions when young and old are mixed', async () => {
      const ctx = setup();
      await ctx.secrets.create({ name: 's', value: str('v0') });
      for (let i = 1; i <= 51; i++) await ctx.secrets.put({ secretId: 's', value: str(`old${i}`) });
      ctx.clock.advance(2 * DAY);
      for (let i = 1; i <= 60; i++) await ctx.secrets.put({ secretId: 's', value: str(`young${i}`) });
      // 110 deprecated, 10 over the limit: the ten oldest (all old) go.
      expect(await deprecatedCount(ctx)).toBe(100);
    });

    it('prunes at most what fits in one transaction', async () => {
      // 250 deprecated versions left by a service with a higher limit (a limit lowered by configuration).
      const ctx = await withDeprecated(250, setup({ maxDeprecatedVersions: 300 }));
      expect(await deprecatedCount(ctx)).toBe(250);
      const secrets = new SecretService({
        store: ctx.store,
        keyProvider: ctx.keys,
        clock: ctx.clock,
        writeRate: 'unlimited',
      });
      ctx.clock.advance(DAY + 1);
      await secrets.put({ secretId: 's', value: str('trigger') });
      expect(await deprecatedCount(ctx)).toBe(251 - (MAX_TRANSACTION_OPS - 2));
      await secrets.put({ secretId: 's', value: str('trigger2') });
      expect(await deprecatedCount(ctx)).toBe(100);
    });
  });

  describe('write rate', () => {
    it('refuses writes to one secret beyond its rate with ThrottledError, storing nothing', async () => {
      const { secrets, store, clock } = setup({ writeRate: { perSecond: 1, burst: 2 } });
      await secrets.create({ name: 's', value: str('v0') });
      await secrets.put({ secretId: 's', value: str('v1') });
      const before = await store.get<SecretRecord>('secrets', 's');
      await expect(secrets.put({ secretId: 's', value: str('v2') })).rejects.toThrow(ThrottledError);
      await expect(secrets.update({ secretId: 's', description: 'd' })).rejects.toThrow(ThrottledError);
      await expect(
        secrets.updateVersionStage({
          secretId: 's',
          versionStage: 'x',
          moveToVersionId: before!.data.stages.AWSCURRENT,
        }),
      ).rejects.toThrow(ThrottledError);
      expect((await store.get('secrets', 's'))?.rev).toBe(before?.rev);
      // Another secret has its own budget; this one refills with time.
      await secrets.put({ secretId: 'other', value: str('o'), createIfMissing: true });
      clock.advance(1000);
      await secrets.put({ secretId: 's', value: str('v2') });
      await expect(secrets.put({ secretId: 's', value: str('v3') })).rejects.toThrow(ThrottledError);
      // Reads are never limited.
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v2'));
    });

    it('counts a secret addressed by ARN against its name', async () => {
      const { secrets } = setup({ writeRate: { perSecond: 1, burst: 2 } });
      const { arn } = await secrets.create({ name: 's', value: str('v0') });
      await secrets.put({ secretId: arn, value: str('v1') });
      await expect(secrets.put({ secretId: arn.slice(0, -7), value: str('v2') })).rejects.toThrow(ThrottledError);
    });

    it('allows 20 writes at once and 10 per second to one secret by default', async () => {
      const ctx = setup();
      const secrets = new SecretService({ store: ctx.store, keyProvider: ctx.keys, clock: ctx.clock });
      await secrets.create({ name: 's', value: str('v0') });
      for (let i = 1; i < 20; i++) await secrets.put({ secretId: 's', value: str(`v${i}`) });
      await expect(secrets.put({ secretId: 's', value: str('v20') })).rejects.toThrow(ThrottledError);
      ctx.clock.advance(100);
      await secrets.put({ secretId: 's', value: str('v20') });
      await expect(secrets.put({ secretId: 's', value: str('v21') })).rejects.toThrow(ThrottledError);
    });
  });
});
