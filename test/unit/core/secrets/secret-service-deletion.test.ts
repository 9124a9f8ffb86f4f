import { describe, expect, it } from 'vitest';
import { InvalidRequestError, NotFoundError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { MAX_TRANSACTION_OPS } from '../../../../lambdas/core/ports/store.ts';
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
      const { secrets, store } = setup();
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
    async function withDeprecated(count: number) {
      const ctx = setup();
      await ctx.secrets.create({ name: 's', value: str('v0') });
      // Each put moves AWSCURRENT; all but the last two versions end up deprecated.
      for (let i = 1; i < count + 2; i++) await ctx.secrets.put({ secretId: 's', value: str(`v${i}`) });
      return ctx;
    }

    async function deprecatedCount(ctx: Awaited<ReturnType<typeof withDeprecated>>) {
      const { versions } = await ctx.secrets.listVersions({ secretId: 's', includeDeprecated: true, limit: 1000 });
      return versions.filter((v) => v.versionStages.length === 0).length;
    }

    it('prunes the oldest deprecated versions beyond 100 once older than 24 hours', async () => {
      const ctx = await withDeprecated(105);
      expect(await deprecatedCount(ctx)).toBe(105);
      ctx.clock.advance(DAY + 1);
      const latest = await ctx.secrets.put({ secretId: 's', value: str('trigger') });
      // The put deprecated one more (106); pruning brings it back to 100.
      expect(await deprecatedCount(ctx)).toBe(100);
      const { versions } = await ctx.secrets.listVersions({ secretId: 's', includeDeprecated: true, limit: 1000 });
      const values = await Promise.all(
        versions.map(async (v) => {
          const got = await ctx.secrets.get({ secretId: 's', versionId: v.versionId });
          return got.value.kind === 'string' ? got.value.string : '';
        }),
      );
      // v0..v5 (the six oldest) are gone; v6 onwards remain.
      expect(values).not.toContain('v5');
      expect(values).toContain('v6');
      expect(versions[0]?.versionId).toBe(latest.versionId);
      const arn = latest.arn;
      expect((await ctx.store.query(`secret-versions#${arn}`, { limit: 1000 })).items).toHaveLength(102);
    });

    it('never prunes a deprecated version younger than 24 hours', async () => {
      const ctx = await withDeprecated(105);
      ctx.clock.advance(DAY - HOUR);
      await ctx.secrets.put({ secretId: 's', value: str('trigger') });
      expect(await deprecatedCount(ctx)).toBe(106);
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
      const ctx = await withDeprecated(100);
      // Make 150 more deprecated versions look young, then age everything at once.
      for (let i = 0; i < 150; i++) await ctx.secrets.put({ secretId: 's', value: str(`x${i}`) });
      expect(await deprecatedCount(ctx)).toBe(250);
      ctx.clock.advance(DAY + 1);
      await ctx.secrets.put({ secretId: 's', value: str('trigger') });
      expect(await deprecatedCount(ctx)).toBe(251 - (MAX_TRANSACTION_OPS - 2));
      await ctx.secrets.put({ secretId: 's', value: str('trigger2') });
      expect(await deprecatedCount(ctx)).toBe(100);
    });
  });
});
