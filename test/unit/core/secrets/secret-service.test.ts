import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidRequestError,
  LimitExceededError,
  NotFoundError,
  ValidationError,
} from '../../../../lambdas/core/errors.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import { bin, setup, str, token } from './fixtures.ts';

describe('Class: SecretService', () => {
  describe('create, put and get', () => {
    it('creates a secret with a string value labelled AWSCURRENT, its ARN in us-east-1 by default', async () => {
      const { secrets } = setup();
      const created = await secrets.create({ name: 'prod/db', value: str('hunter2'), description: 'db' });
      expect(created.arn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:prod\/db-[A-Za-z0-9]{6}$/);
      expect(created.versionId).toBeDefined();
      const got = await secrets.get({ secretId: 'prod/db' });
      expect(got.value).toEqual(str('hunter2'));
      expect(got.versionId).toBe(created.versionId);
      expect(got.versionStages).toEqual(['AWSCURRENT']);
    });

    it('stores and returns binary values byte for byte', async () => {
      const { secrets } = setup();
      const bytes = Buffer.from([0, 255, 1, 254, 0, 0, 128]);
      await secrets.create({ name: 'bin' });
      await secrets.put({ secretId: 'bin', value: bin(bytes) });
      const got = await secrets.get({ secretId: 'bin' });
      expect(got.value.kind).toBe('binary');
      expect(got.value.kind === 'binary' && got.value.binary.equals(bytes)).toBe(true);
    });

    it('uses the region and account of its options in ARNs', async () => {
      const { secrets } = setup({ region: 'eu-west-1', account: '123456789012' });
      const { arn } = await secrets.create({ name: 'x' });
      expect(arn.startsWith('arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-')).toBe(true);
    });

    it('creates a secret without a value, which then has no current version', async () => {
      const { secrets } = setup();
      const created = await secrets.create({ name: 'empty' });
      expect(created.versionId).toBeUndefined();
      await expect(secrets.get({ secretId: 'empty' })).rejects.toThrow(NotFoundError);
      const put = await secrets.put({ secretId: 'empty', value: str('v'), versionStages: ['AWSPENDING'] });
      // The first version of a secret always becomes current, as in AWS.
      expect(put.versionStages.sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    });

    it('refuses to create a secret whose name is taken', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 'taken' });
      await expect(secrets.create({ name: 'taken' })).rejects.toThrow(AlreadyExistsError);
    });

    it('returns the first result when a reader retries create with the same token and value', async () => {
      const { secrets } = setup();
      const request = { name: 'retry', value: str('v'), clientRequestToken: token('a'), mayRead: true };
      const first = await secrets.create(request);
      const again = await secrets.create(request);
      expect(again).toEqual(first);
      expect(first.versionId).toBe(token('a'));
    });

    it('refuses a create retry whose value differs', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 'retry', value: str('v'), clientRequestToken: token('a') });
      await expect(
        secrets.create({ name: 'retry', value: str('other'), clientRequestToken: token('a'), mayRead: true }),
      ).rejects.toThrow(AlreadyExistsError);
    });

    it('answers a caller who may not read alike whether a create retry matches the value or not', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 'retry', value: str('right'), clientRequestToken: token('a') });
      const answers = await Promise.all(
        ['right', 'wrong'].map((guess) =>
          secrets.create({ name: 'retry', value: str(guess), clientRequestToken: token('a'), mayRead: false }).then(
            () => 'accepted',
            (err: Error) => `${err.constructor.name}: ${err.message}`,
          ),
        ),
      );
      expect(answers[0]).toBe('AlreadyExistsError: secret retry already exists');
      expect(answers[1]).toBe(answers[0]);
    });

    it('refuses to put to a missing secret unless createIfMissing is set', async () => {
      const { secrets } = setup();
      await expect(secrets.put({ secretId: 'nope', value: str('v') })).rejects.toThrow(NotFoundError);
      const put = await secrets.put({ secretId: 'nope', value: str('v'), createIfMissing: true });
      expect(put.versionStages).toEqual(['AWSCURRENT']);
      expect((await secrets.get({ secretId: 'nope' })).value).toEqual(str('v'));
    });

    it('answers NotFoundError for unknown secrets, versions and stages', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 'a', value: str('v') });
      await expect(secrets.get({ secretId: 'missing' })).rejects.toThrow(NotFoundError);
      await expect(secrets.get({ secretId: 'a', versionId: 'no-such-version' })).rejects.toThrow(NotFoundError);
      await expect(secrets.get({ secretId: 'a', versionStage: 'AWSPENDING' })).rejects.toThrow(NotFoundError);
    });

    it('returns plain objects that do not alias stored state', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 'a', tags: { team: 'x' } });
      const described = await secrets.describe({ secretId: 'a' });
      described.tags.team = 'changed';
      expect((await secrets.describe({ secretId: 'a' })).tags).toEqual({ team: 'x' });
      expect(described).not.toHaveProperty('rev');
    });
  });

  describe('staging labels on put', () => {
    it('moves AWSCURRENT to the new version and AWSPREVIOUS to the one it left', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      const v2 = (await secrets.put({ secretId: 's', value: str('two') })).versionId;
      const v3 = (await secrets.put({ secretId: 's', value: str('three') })).versionId;
      const { versionIdsToStages } = await secrets.describe({ secretId: 's' });
      expect(versionIdsToStages).toEqual({ [v3]: ['AWSCURRENT'], [v2]: ['AWSPREVIOUS'] });
      expect((await secrets.get({ secretId: 's', versionStage: 'AWSPREVIOUS' })).value).toEqual(str('two'));
      // v1 is deprecated but still readable by id.
      const old = await secrets.get({ secretId: 's', versionId: v1 });
      expect(old.value).toEqual(str('one'));
      expect(old.versionStages).toEqual([]);
    });

    it('moves custom labels given in versionStages, wherever they were', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      const v2 = (await secrets.put({ secretId: 's', value: str('two'), versionStages: ['AWSCURRENT', 'blue'] }))
        .versionId;
      const v3 = (await secrets.put({ secretId: 's', value: str('three'), versionStages: ['blue'] })).versionId;
      const { versionIdsToStages } = await secrets.describe({ secretId: 's' });
      expect(versionIdsToStages).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'], [v3]: ['blue'] });
    });

    it('leaves AWSCURRENT and AWSPREVIOUS alone for a put labelled only AWSPENDING', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      const v2 = (await secrets.put({ secretId: 's', value: str('two') })).versionId;
      const pending = await secrets.put({ secretId: 's', value: str('next'), versionStages: ['AWSPENDING'] });
      expect(pending.versionStages).toEqual(['AWSPENDING']);
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('two'));
      const { versionIdsToStages } = await secrets.describe({ secretId: 's' });
      expect(versionIdsToStages).toEqual({
        [v2]: ['AWSCURRENT'],
        [v1]: ['AWSPREVIOUS'],
        [pending.versionId]: ['AWSPENDING'],
      });
    });

    it('reads a version by id and stage only when it carries that stage', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      const v2 = (await secrets.put({ secretId: 's', value: str('two') })).versionId;
      const both = await secrets.get({ secretId: 's', versionId: v2, versionStage: 'AWSCURRENT' });
      expect(both.value).toEqual(str('two'));
      await expect(secrets.get({ secretId: 's', versionId: v1, versionStage: 'AWSCURRENT' })).rejects.toThrow(
        /doesn't have staging label AWSCURRENT/,
      );
    });

    it('refuses more than 20 labels on one version', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('one') });
      const labels = Array.from({ length: 21 }, (_, i) => `L${i}`);
      await expect(secrets.put({ secretId: 's', value: str('x'), versionStages: labels })).rejects.toThrow(
        ValidationError,
      );
    });
  });

  describe('updateVersionStage', () => {
    async function threeVersions() {
      const ctx = setup();
      const v1 = (await ctx.secrets.create({ name: 's', value: str('one') })).versionId!;
      const v2 = (await ctx.secrets.put({ secretId: 's', value: str('two') })).versionId;
      const v3 = (await ctx.secrets.put({ secretId: 's', value: str('three'), versionStages: ['AWSPENDING'] }))
        .versionId;
      return { ...ctx, v1, v2, v3 };
    }

    it('moves a label to a version when removeFromVersionId names where it is', async () => {
      const { secrets, v2, v3 } = await threeVersions();
      await secrets.updateVersionStage({
        secretId: 's',
        versionStage: 'AWSPENDING',
        moveToVersionId: v2,
        removeFromVersionId: v3,
      });
      expect((await secrets.describe({ secretId: 's' })).versionIdsToStages[v2]).toEqual(['AWSCURRENT', 'AWSPENDING']);
    });

    it('refuses to move an attached label without removeFromVersionId', async () => {
      const { secrets, v2, v3 } = await threeVersions();
      await expect(
        secrets.updateVersionStage({ secretId: 's', versionStage: 'AWSPENDING', moveToVersionId: v2 }),
      ).rejects.toThrow(new RegExp(`attached to version ${v3}; specify removeFromVersionId`));
    });

    it('refuses removeFromVersionId naming a version without the label', async () => {
      const { secrets, v1, v2 } = await threeVersions();
      await expect(
        secrets.updateVersionStage({
          secretId: 's',
          versionStage: 'AWSPENDING',
          moveToVersionId: v2,
          removeFromVersionId: v1,
        }),
      ).rejects.toThrow(ValidationError);
      await expect(
        secrets.updateVersionStage({ secretId: 's', versionStage: 'AWSPENDING', removeFromVersionId: v1 }),
      ).rejects.toThrow(/not attached/);
    });

    it('attaches a label that is on no version without removeFromVersionId', async () => {
      const { secrets, v1 } = await threeVersions();
      await secrets.updateVersionStage({ secretId: 's', versionStage: 'green', moveToVersionId: v1 });
      expect((await secrets.get({ secretId: 's', versionStage: 'green' })).value).toEqual(str('one'));
    });

    it('removes a label without moving it', async () => {
      const { secrets, v3 } = await threeVersions();
      await secrets.updateVersionStage({ secretId: 's', versionStage: 'AWSPENDING', removeFromVersionId: v3 });
      expect((await secrets.describe({ secretId: 's' })).versionIdsToStages[v3]).toBeUndefined();
    });

    it('refuses to remove AWSCURRENT without moving it', async () => {
      const { secrets, v2 } = await threeVersions();
      await expect(
        secrets.updateVersionStage({ secretId: 's', versionStage: 'AWSCURRENT', removeFromVersionId: v2 }),
      ).rejects.toThrow(/can only be moved/);
    });

    it('moves AWSPREVIOUS to the old current when AWSCURRENT moves', async () => {
      const { secrets, v1, v2, v3 } = await threeVersions();
      await secrets.updateVersionStage({
        secretId: 's',
        versionStage: 'AWSCURRENT',
        moveToVersionId: v3,
        removeFromVersionId: v2,
      });
      const { versionIdsToStages } = await secrets.describe({ secretId: 's' });
      expect(versionIdsToStages).toEqual({ [v3]: ['AWSCURRENT', 'AWSPENDING'], [v2]: ['AWSPREVIOUS'] });
      expect(versionIdsToStages[v1]).toBeUndefined();
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('three'));
    });

    it('answers NotFoundError for an unknown target version', async () => {
      const { secrets, v3 } = await threeVersions();
      await expect(
        secrets.updateVersionStage({
          secretId: 's',
          versionStage: 'AWSPENDING',
          moveToVersionId: 'f'.repeat(36),
          removeFromVersionId: v3,
        }),
      ).rejects.toThrow(NotFoundError);
    });

    it('is a no-op when the label is already on the target', async () => {
      const { secrets, store, v3 } = await threeVersions();
      const before = await store.get('secrets', 's');
      await secrets.updateVersionStage({ secretId: 's', versionStage: 'AWSPENDING', moveToVersionId: v3 });
      expect((await store.get('secrets', 's'))?.rev).toBe(before?.rev);
    });

    it('refuses a 21st label on a version', async () => {
      const { secrets, v1 } = await threeVersions();
      // v1 already carries AWSPREVIOUS, so 19 more make 20.
      for (let i = 0; i < 19; i++) {
        await secrets.updateVersionStage({ secretId: 's', versionStage: `L${i}`, moveToVersionId: v1 });
      }
      expect((await secrets.describe({ secretId: 's' })).versionIdsToStages[v1]).toHaveLength(20);
      await expect(
        secrets.updateVersionStage({ secretId: 's', versionStage: 'L19', moveToVersionId: v1 }),
      ).rejects.toThrow(LimitExceededError);
    });

    it('needs a target or a source', async () => {
      const { secrets } = await threeVersions();
      await expect(secrets.updateVersionStage({ secretId: 's', versionStage: 'AWSPENDING' })).rejects.toThrow(
        ValidationError,
      );
    });
  });

  describe('client request tokens', () => {
    it('treats a retry with the same token and value as a no-op for a reader', async () => {
      const { secrets, store } = setup();
      await secrets.create({ name: 's', value: str('one') });
      const request = { secretId: 's', value: str('two'), clientRequestToken: token('t'), mayRead: true };
      const first = await secrets.put(request);
      const rev = (await store.get('secrets', 's'))?.rev;
      const again = await secrets.put(request);
      expect(again).toEqual(first);
      expect(first.versionId).toBe(token('t'));
      expect((await store.get('secrets', 's'))?.rev).toBe(rev);
    });

    it('refuses a token reused with a different value', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('one') });
      await secrets.put({ secretId: 's', value: str('two'), clientRequestToken: token('t') });
      await expect(
        secrets.put({ secretId: 's', value: str('three'), clientRequestToken: token('t'), mayRead: true }),
      ).rejects.toThrow(AlreadyExistsError);
    });

    it('refuses a used token alike to a caller who may not read, whatever the value', async () => {
      const { secrets, store } = setup();
      await secrets.create({ name: 's', value: str('one') });
      await secrets.put({ secretId: 's', value: str('two'), clientRequestToken: token('t') });
      const rev = (await store.get('secrets', 's'))?.rev;
      const answers: string[] = [];
      for (const guess of ['two', 'wrong']) {
        for (const cas of [{}, { ifAbsent: true, createIfMissing: true }]) {
          const err = await secrets
            .put({ secretId: 's', value: str(guess), clientRequestToken: token('t'), ...cas })
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(AlreadyExistsError);
          answers.push((err as Error).message);
        }
      }
      expect(new Set(answers)).toEqual(
        new Set([`version ${token('t')} already exists; a new value needs a new clientRequestToken`]),
      );
      expect((await store.get('secrets', 's'))?.rev).toBe(rev);
    });

    it('refuses a token reused with the same bytes but another kind', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('one'), clientRequestToken: token('t') });
      await expect(
        secrets.put({ secretId: 's', value: bin(Buffer.from('one')), clientRequestToken: token('t') }),
      ).rejects.toThrow(AlreadyExistsError);
    });

    it('checks idempotency before check-and-set, so a retry after a lost response succeeds', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      const request = {
        secretId: 's',
        value: str('two'),
        clientRequestToken: token('t'),
        ifVersionId: v1,
        mayRead: true,
      };
      const first = await secrets.put(request);
      await expect(secrets.put(request)).resolves.toEqual(first);
    });

    it('keeps the same token and value idempotent under concurrency', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's', value: str('one') });
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          secrets.put({ secretId: 's', value: str('two'), clientRequestToken: token('c'), mayRead: true }),
        ),
      );
      expect(new Set(results.map((r) => r.versionId))).toEqual(new Set([token('c')]));
      expect((await secrets.listVersions({ secretId: 's', includeDeprecated: true })).versions).toHaveLength(2);
    });
  });

  describe('check-and-set', () => {
    it('writes when ifVersionId is the current version', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      await secrets.put({ secretId: 's', value: str('two'), ifVersionId: v1 });
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('two'));
    });

    it('refuses when ifVersionId is not the current version', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('one') })).versionId!;
      await secrets.put({ secretId: 's', value: str('two') });
      await expect(secrets.put({ secretId: 's', value: str('three'), ifVersionId: v1 })).rejects.toThrow(
        /current version differs/,
      );
      expect((await secrets.get({ secretId: 's' })).value).toEqual(str('two'));
    });

    it('writes with ifAbsent only when there is no current version', async () => {
      const { secrets } = setup();
      await secrets.put({ secretId: 'new', value: str('one'), ifAbsent: true, createIfMissing: true });
      await expect(secrets.put({ secretId: 'new', value: str('two'), ifAbsent: true })).rejects.toThrow(ConflictError);
      await secrets.create({ name: 'valueless' });
      await secrets.put({ secretId: 'valueless', value: str('v'), ifAbsent: true });
      expect((await secrets.get({ secretId: 'valueless' })).value).toEqual(str('v'));
    });

    it('refuses ifVersionId on a secret that does not exist yet', async () => {
      const { secrets } = setup();
      await expect(
        secrets.put({ secretId: 'new', value: str('v'), ifVersionId: 'a'.repeat(36), createIfMissing: true }),
      ).rejects.toThrow(ConflictError);
    });

    it('refuses ifVersionId together with ifAbsent', async () => {
      const { secrets } = setup();
      await expect(
        secrets.put({ secretId: 's', value: str('v'), ifVersionId: 'a'.repeat(36), ifAbsent: true }),
      ).rejects.toThrow(ValidationError);
    });

    it('lets exactly one of 30 concurrent writers with the same ifVersionId win', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('zero') })).versionId!;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => secrets.put({ secretId: 's', value: str(`w${i}`), ifVersionId: v1 })),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(29);
      for (const o of lost) expect(o.reason).toBeInstanceOf(ConflictError);
      const winner = (won[0] as PromiseFulfilledResult<{ versionId: string }>).value.versionId;
      expect((await secrets.get({ secretId: 's' })).versionId).toBe(winner);
    });

    it('lands all of 30 concurrent writers without check-and-set, with consistent labels', async () => {
      const { secrets } = setup();
      const v1 = (await secrets.create({ name: 's', value: str('zero') })).versionId!;
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => secrets.put({ secretId: 's', value: str(`w${i}`) })),
      );
      const { versions } = await secrets.listVersions({ secretId: 's', includeDeprecated: true });
      expect(new Set(versions.map((v) => v.versionId))).toEqual(new Set([v1, ...results.map((r) => r.versionId)]));
      const current = versions.filter((v) => v.versionStages.includes('AWSCURRENT'));
      const previous = versions.filter((v) => v.versionStages.includes('AWSPREVIOUS'));
      expect(current).toHaveLength(1);
      expect(previous).toHaveLength(1);
      // Each put moved AWSCURRENT, so every version but the last writer's has been current and then left behind.
      expect(versions.filter((v) => v.versionStages.length > 0)).toHaveLength(2);
      const values = await Promise.all(versions.map((v) => secrets.get({ secretId: 's', versionId: v.versionId })));
      expect(new Set(values.map((v) => (v.value.kind === 'string' ? v.value.string : '')))).toEqual(
        new Set(['zero', ...Array.from({ length: 30 }, (_, i) => `w${i}`)]),
      );
    });
  });

  describe('addressing', () => {
    it('finds a secret by name, full ARN and partial ARN', async () => {
      const { secrets } = setup();
      const { arn } = await secrets.create({ name: 'prod/db', value: str('v') });
      const partial = arn.slice(0, -7);
      for (const secretId of ['prod/db', arn, partial]) {
        expect((await secrets.get({ secretId })).arn).toBe(arn);
      }
    });

    it('does not find a secret by the ARN of a deleted predecessor of the same name', async () => {
      const { secrets } = setup();
      const old = await secrets.create({ name: 'reborn', value: str('old') });
      await secrets.delete({ secretId: 'reborn', forceDeleteWithoutRecovery: true });
      const fresh = await secrets.create({ name: 'reborn', value: str('new') });
      expect(fresh.arn).not.toBe(old.arn);
      await expect(secrets.get({ secretId: old.arn })).rejects.toThrow(NotFoundError);
      expect((await secrets.get({ secretId: fresh.arn })).value).toEqual(str('new'));
    });

    it('does not find a secret by an ARN of another region or account', async () => {
      const { secrets } = setup();
      const { arn } = await secrets.create({ name: 'x', value: str('v') });
      await expect(secrets.get({ secretId: arn.replace(':us-east-1:', ':eu-west-1:') })).rejects.toThrow(NotFoundError);
      await expect(secrets.get({ secretId: arn.replace('000000000000', '111111111111') })).rejects.toThrow(
        NotFoundError,
      );
    });

    it('tells a full ARN from a partial ARN when the name itself ends like a suffix', async () => {
      const { secrets } = setup();
      const plain = await secrets.create({ name: 'app', value: str('plain') });
      const suffixed = await secrets.create({ name: 'app-abcdef', value: str('suffixed') });
      const partialOfSuffixed = suffixed.arn.slice(0, -7);
      expect((await secrets.get({ secretId: partialOfSuffixed })).value).toEqual(str('suffixed'));
      expect((await secrets.get({ secretId: plain.arn })).value).toEqual(str('plain'));
    });

    it('does not create a secret from an ARN', async () => {
      const { secrets } = setup();
      await expect(
        secrets.put({
          secretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:x',
          value: str('v'),
          createIfMissing: true,
        }),
      ).rejects.toThrow(NotFoundError);
    });
  });

  describe('update', () => {
    it('updates description and metadata and adds and removes tags', async () => {
      const { secrets, clock } = setup();
      await secrets.create({ name: 's', tags: { a: '1', b: '2' }, metadata: { owner: 'x' } });
      clock.advance(1000);
      await secrets.update({
        secretId: 's',
        description: 'new',
        metadata: { owner: 'y' },
        addTags: { c: '3' },
        removeTagKeys: ['a'],
      });
      const d = await secrets.describe({ secretId: 's' });
      expect(d).toMatchObject({ description: 'new', metadata: { owner: 'y' }, tags: { b: '2', c: '3' } });
      expect(d.updatedAt).toBe(d.createdAt + 1000);
      await secrets.tag({ secretId: 's', tags: { d: '4' } });
      await secrets.untag({ secretId: 's', tagKeys: ['b'] });
      expect((await secrets.describe({ secretId: 's' })).tags).toEqual({ c: '3', d: '4' });
    });

    it('refuses tags that would exceed 50 in total', async () => {
      const { secrets } = setup();
      const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
      await secrets.create({ name: 's', tags });
      await expect(secrets.update({ secretId: 's', addTags: { one: 'more' } })).rejects.toThrow(/at most 50 tags/);
    });

    it('refuses a tag key both added and removed', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's' });
      await expect(secrets.update({ secretId: 's', addTags: { a: '1' }, removeTagKeys: ['a'] })).rejects.toThrow(
        ValidationError,
      );
    });

    it('refuses to update a secret pending deletion', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's' });
      await secrets.delete({ secretId: 's' });
      await expect(secrets.update({ secretId: 's', description: 'x' })).rejects.toThrow(InvalidRequestError);
    });
  });

  describe('writes', () => {
    it('gives up with ConflictError after the configured number of lost races', async () => {
      const { store, keys, clock } = setup();
      const secrets = new SecretService({ store, keyProvider: keys, clock, maxWriteAttempts: 2 });
      await secrets.create({ name: 's', value: str('one') });
      const transact = store.transact.bind(store);
      let calls = 0;
      // Another writer bumps the metadata between every read and write.
      store.transact = async (ops) => {
        calls++;
        const current = await store.get('secrets', 's');
        await transact([{ type: 'put', pk: 'secrets', sk: 's', data: current!.data }]);
        return transact(ops);
      };
      await expect(secrets.put({ secretId: 's', value: str('two') })).rejects.toThrow(ConflictError);
      expect(calls).toBe(2);
    });
  });
});
