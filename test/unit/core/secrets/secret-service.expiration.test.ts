import { describe, expect, it } from 'vitest';
import { ExpiredError, NotFoundError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import { ExpirySweep } from '../../../../lambdas/core/secrets/expiration/expiry-sweep.ts';
import { secretExpirySource } from '../../../../lambdas/core/secrets/expiration/secret-expiry-source.ts';
import { HOME_PARTITIONS } from '../../../../lambdas/core/secrets/secret-partitions.ts';
import { FakeDatabaseProvider, fakeRegistry } from '../leases/fake-provider.ts';
import { DAY, HOUR, setup, str } from './fixtures.ts';

type Published = { detailType: string; detail: Record<string, unknown> };

function withEvents(options: { failing?: () => boolean } = {}) {
  const published: Published[] = [];
  const events = {
    async publish(detailType: string, detail: Readonly<Record<string, unknown>>) {
      if (options.failing?.() === true) throw new Error('bus down');
      published.push({ detailType, detail: { ...detail } });
    },
  };
  const env = setup({ expiryEvents: events });
  const sweep = new ExpirySweep({
    store: env.store,
    clock: env.clock,
    events,
    sources: async () => [
      secretExpirySource({ store: env.store, clock: env.clock, partitions: HOME_PARTITIONS, region: 'us-east-1' }),
    ],
  });
  return { ...env, published, events, sweep };
}

const types = (published: Published[]) => published.map((p) => `${p.detailType}:${p.detail.leadTimeSeconds ?? ''}`);

describe('Secret expiration', () => {
  it('emits its events at each lead time, is readable during grace with the warning, and is refused after', async () => {
    const { secrets, clock, sweep, published } = withEvents();
    await secrets.create({
      name: 'app/token',
      value: str('v1'),
      expiration: { ttlSeconds: 40 * 86_400, graceSeconds: 3600 },
    });
    const expiresAt = clock.now() + 40 * DAY;

    expect((await secrets.get({ secretId: 'app/token' })).expiry).toBeUndefined();
    await sweep.sweep();
    expect(published).toEqual([]);

    clock.advance(10 * DAY); // 30 days left
    await sweep.sweep();
    expect(types(published)).toEqual([`SecretExpiring:${30 * 86_400}`]);
    expect(published[0]!.detail).toMatchObject({
      secretName: 'app/token',
      expiresAt: new Date(expiresAt).toISOString(),
    });
    expect((await secrets.get({ secretId: 'app/token' })).expiry).toMatchObject({ state: 'expiring', expiresAt });

    // A second sweep at the same time publishes nothing again.
    await sweep.sweep();
    expect(published).toHaveLength(1);

    clock.advance(23 * DAY); // 7 days left
    await sweep.sweep();
    clock.advance(6 * DAY); // 1 day left
    await sweep.sweep();
    expect(types(published)).toEqual([
      `SecretExpiring:${30 * 86_400}`,
      `SecretExpiring:${7 * 86_400}`,
      `SecretExpiring:${86_400}`,
    ]);

    clock.advance(DAY); // expired, in grace
    await sweep.sweep();
    expect(published.at(-1)).toMatchObject({ detailType: 'SecretExpired', detail: { reason: 'time' } });
    const inGrace = await secrets.get({ secretId: 'app/token' });
    expect(inGrace.value).toEqual(str('v1'));
    expect(inGrace.expiry).toEqual({ state: 'grace', expiresAt, graceEndsAt: expiresAt + HOUR });
    expect(published.at(-1)).toMatchObject({
      detailType: 'SecretReadDuringGrace',
      detail: { secretName: 'app/token' },
    });

    clock.advance(HOUR);
    const refusal = await secrets.get({ secretId: 'app/token' }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(ExpiredError);
    expect((refusal as Error).message).toBe(
      `secret app/token has expired: its expiration time passed at ${new Date(expiresAt).toISOString()} ` +
        `and its grace period ended at ${new Date(expiresAt + HOUR).toISOString()}`,
    );
    expect(JSON.stringify(published)).not.toContain('v1');
  });

  it('publishes each event once across concurrent sweepers and restarts', async () => {
    const { secrets, clock, store, events, published } = withEvents();
    await secrets.create({ name: 's', value: str('v'), expiration: { ttlSeconds: 2 * 86_400 } });
    clock.advance(2 * DAY);
    // Separate sweepers over one store, as separate processes (or a process before and after a restart) would be.
    const sweeper = () =>
      new ExpirySweep({
        store,
        clock,
        events,
        sources: async () => [secretExpirySource({ store, clock, partitions: HOME_PARTITIONS, region: 'us-east-1' })],
      });
    await Promise.all([sweeper().sweep(), sweeper().sweep(), sweeper().sweep()]);
    await sweeper().sweep();
    expect(types(published)).toEqual([`SecretExpiring:${86_400}`, 'SecretExpired:']);
  });

  it('retries an event whose publication failed once its claim lapses', async () => {
    let down = true;
    const { secrets, clock, sweep, published } = withEvents({ failing: () => down });
    await secrets.create({ name: 's', value: str('v'), expiration: { ttlSeconds: 60, notifyBeforeSeconds: [30] } });
    clock.advance(60_000);
    expect(await sweep.sweep()).toMatchObject({ failed: 2, published: 0 });
    down = false;
    expect(await sweep.sweep()).toMatchObject({ published: 0 });
    clock.advance(5 * 60_000);
    expect(await sweep.sweep()).toMatchObject({ published: 2 });
    expect(types(published)).toEqual(['SecretExpiring:30', 'SecretExpired:']);
  });

  it('drops the events of a policy cleared or replaced', async () => {
    const { secrets, clock, sweep, published } = withEvents();
    await secrets.create({ name: 's', value: str('v'), expiration: { ttlSeconds: 2 * 86_400 } });
    await secrets.update({ secretId: 's', expiration: null });
    clock.advance(3 * DAY);
    await sweep.sweep();
    expect(published).toEqual([]);
    expect((await secrets.describe({ secretId: 's' })).expiration).toBeUndefined();
    expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v'));
  });

  it('shows the policy and its state in describe', async () => {
    const { secrets, clock } = withEvents();
    await secrets.create({ name: 's', value: str('v'), expiration: { maxReads: 2, ttlSeconds: 86_400 } });
    await secrets.get({ secretId: 's' });
    const { expiration } = await secrets.describe({ secretId: 's' });
    expect(expiration?.policy).toMatchObject({ maxReads: 2, expiresAt: clock.now() + DAY });
    expect(expiration?.status).toMatchObject({ state: 'expiring', readsLeft: 1 });
  });

  describe('max reads', () => {
    it('refuses the N+1th read and announces the expiry once', async () => {
      const { secrets, sweep, published } = withEvents();
      await secrets.create({ name: 's', value: str('v'), expiration: { maxReads: 2 } });
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v'));
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v'));
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(/its read limit is spent/);
      await sweep.sweep();
      expect(types(published)).toEqual(['SecretExpired:']);
      expect(published[0]!.detail).toMatchObject({ reason: 'reads' });
    });

    it('admits exactly N of many concurrent reads', async () => {
      const { secrets } = withEvents();
      await secrets.create({ name: 's', value: str('v'), expiration: { maxReads: 5 } });
      const outcomes = await Promise.allSettled(Array.from({ length: 25 }, () => secrets.get({ secretId: 's' })));
      const served = outcomes.filter((o) => o.status === 'fulfilled');
      expect(served).toHaveLength(5);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ExpiredError);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(ExpiredError);
    });

    it('starts the count afresh when the policy is set again', async () => {
      const { secrets } = withEvents();
      await secrets.create({ name: 's', value: str('v'), expiration: { maxReads: 1 } });
      await secrets.get({ secretId: 's' });
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(ExpiredError);
      await secrets.update({ secretId: 's', expiration: { maxReads: 1 } });
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v'));
    });
  });

  describe('conditional expiry', () => {
    it('expires when the named secret rotates, after its grace period, with one SecretExpired', async () => {
      const { secrets, clock, sweep, published } = withEvents();
      await secrets.create({ name: 'db/admin', value: str('a1') });
      await secrets.create({
        name: 'db/derived',
        value: str('d1'),
        expiration: { expireWhenRotated: 'db/admin', graceSeconds: 600 },
      });
      await sweep.sweep();
      expect((await secrets.get({ secretId: 'db/derived' })).expiry).toBeUndefined();

      await secrets.put({ secretId: 'db/admin', value: str('a2') });
      await sweep.sweep();
      expect(published.map((p) => p.detailType)).toEqual(['SecretExpired']);
      expect(published[0]!.detail).toMatchObject({ secretName: 'db/derived', reason: 'rotation' });

      clock.advance(5 * 60_000);
      expect((await secrets.get({ secretId: 'db/derived' })).expiry?.state).toBe('grace');
      clock.advance(5 * 60_000);
      await expect(secrets.get({ secretId: 'db/derived' })).rejects.toThrow(/the secret it depends on rotated/);
      await sweep.sweep();
      expect(published.filter((p) => p.detailType === 'SecretExpired')).toHaveLength(1);
    });

    it("expires when a rotation's finishSecret moves the watched secret's labels, not when it stages a version", async () => {
      const { secrets } = withEvents();
      const first = await secrets.create({ name: 'db/admin', value: str('a1') });
      await secrets.create({ name: 'db/app', value: str('p1'), expiration: { expireWhenRotated: 'db/admin' } });
      const pending = await secrets.put({ secretId: 'db/admin', value: str('a2'), versionStages: ['AWSPENDING'] });
      expect((await secrets.get({ secretId: 'db/app' })).value).toEqual(str('p1'));
      await secrets.setRotationStages({
        secretId: 'db/admin',
        current: pending.versionId,
        previous: first.versionId,
        pending: undefined,
      });
      await expect(secrets.get({ secretId: 'db/app' })).rejects.toThrow(ExpiredError);
    });

    it('is refused at the first read after the rotation, before any sweep', async () => {
      const { secrets } = withEvents();
      await secrets.create({ name: 'a', value: str('a1') });
      await secrets.create({ name: 'b', value: str('b1'), expiration: { expireWhenRotated: 'a' } });
      await secrets.put({ secretId: 'a', value: str('a2') });
      await expect(secrets.get({ secretId: 'b' })).rejects.toThrow(ExpiredError);
    });

    function withLeases() {
      const env = withEvents();
      const db = new FakeDatabaseProvider();
      db.roles.set('app', { defaultTtlSeconds: 3600, maxTtlSeconds: 7200 });
      const leases = new LeaseService({ store: env.store, clock: env.clock, providers: fakeRegistry(db) });
      const issue = async () =>
        (await leases.issue({ kind: 'database', role: 'app', principalId: 'alice' })).lease.leaseId;
      return { ...env, leases, issue };
    }

    it('expires when the named lease is revoked', async () => {
      const { secrets, sweep, published, leases, issue } = withLeases();
      const leaseId = await issue();
      await secrets.create({ name: 's', value: str('v'), expiration: { expireWhenLeaseRevoked: leaseId } });
      await sweep.sweep();
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('v'));
      await leases.revoke(leaseId);
      await sweep.sweep();
      expect(published).toEqual([
        { detailType: 'SecretExpired', detail: expect.objectContaining({ secretName: 's', reason: 'lease' }) },
      ]);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(/the lease it depends on ended/);
    });

    it('expires when the named lease runs out, even before the lease sweeper revokes it', async () => {
      const { secrets, clock, issue } = withLeases();
      const leaseId = await issue();
      await secrets.create({ name: 's', value: str('v'), expiration: { expireWhenLeaseRevoked: leaseId } });
      clock.advance(HOUR);
      await expect(secrets.get({ secretId: 's' })).rejects.toThrow(ExpiredError);
    });

    it('refuses a secret or lease that does not exist, and the secret itself', async () => {
      const { secrets } = withEvents();
      await expect(secrets.create({ name: 's', expiration: { expireWhenRotated: 'missing' } })).rejects.toThrow(
        NotFoundError,
      );
      await expect(
        secrets.create({
          name: 's',
          expiration: { expireWhenLeaseRevoked: 'database/creds/x/0123456789abcdef01234567' },
        }),
      ).rejects.toThrow(NotFoundError);
      await secrets.create({ name: 's' });
      await expect(secrets.update({ secretId: 's', expiration: { expireWhenRotated: 's' } })).rejects.toThrow(
        ValidationError,
      );
    });
  });
});
