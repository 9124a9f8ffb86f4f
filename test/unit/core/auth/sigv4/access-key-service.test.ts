import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { AccessKeyService } from '../../../../../lambdas/core/auth/sigv4/access-key-service.ts';
import {
  ACCESS_KEY_PARTITION,
  type AccessKeyItem,
  type AccessKeyRecord,
} from '../../../../../lambdas/core/auth/sigv4/access-key-types.ts';
import {
  AlreadyExistsError,
  DecryptionFailureError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../../../../lambdas/core/errors.ts';
import type { Clock } from '../../../../../lambdas/core/ports/clock.ts';
import type { ItemData, Store, StoredItem, WriteOp } from '../../../../../lambdas/core/ports/store.ts';
import type { Principal } from '../../../../../lambdas/core/principal.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';
import { rejectionOf } from '../../../../support/rejection.ts';

const RECORD_KEYS = ['accessKeyId', 'createdAt', 'policies', 'principal', 'status'];

/** A store that remembers every write, so a test can search everything that was ever persisted. */
class RecordingStore extends MemoryStore {
  readonly written: WriteOp[] = [];
  /** When set, the next `get` reads at once but answers only when the returned function is called. */
  holdNextGet: ((release: () => void) => void) | undefined;

  override async transact(ops: readonly WriteOp[]): Promise<void> {
    this.written.push(...structuredClone(ops));
    return super.transact(ops);
  }

  override async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    const item = await super.get<T>(pk, sk);
    const hold = this.holdNextGet;
    if (hold === undefined) return item;
    this.holdNextGet = undefined;
    await new Promise<void>((resolve) => hold(resolve));
    return item;
  }
}

function setup(options: { cacheTtlMs?: number; cacheMaxEntries?: number } = {}) {
  const store = new RecordingStore();
  const keyProvider = new FakeKeyProvider();
  let now = 1_700_000_000_000;
  const clock: Clock = { now: () => now };
  const keys = new AccessKeyService({ store, keyProvider, clock, ...options });
  return { store, keyProvider, keys, advance: (ms: number) => (now += ms), now: () => now };
}

async function storedItem(store: Store, accessKeyId: string): Promise<AccessKeyItem> {
  const item = await store.get<AccessKeyItem>(ACCESS_KEY_PARTITION, accessKeyId);
  if (item === undefined) throw new Error(`no item for ${accessKeyId}`);
  return item.data;
}

describe('Class: AccessKeyService', () => {
  describe('create', () => {
    it('issues an AKCF id and a 40-character secret, returned once with an active record', async () => {
      const { keys, now } = setup();
      const created = await keys.create({ principal: 'ci-pipeline', policies: ['app', 'ops', 'app'] });
      expect(created.accessKeyId).toMatch(/^AKCF[A-Z2-7]{16}$/);
      expect(created.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
      expect(created.record).toEqual({
        accessKeyId: created.accessKeyId,
        principal: 'ci-pipeline',
        policies: ['app', 'ops'],
        createdAt: now(),
        status: 'active',
      });
    });

    it('issues a different pair every time', async () => {
      const { keys } = setup();
      const a = await keys.create({ principal: 'a' });
      const b = await keys.create({ principal: 'a' });
      expect(a.accessKeyId).not.toBe(b.accessKeyId);
      expect(a.secretAccessKey).not.toBe(b.secretAccessKey);
    });

    it.each([[''], ['has space'], ['x'.repeat(65)], ['naïve']])('rejects the principal %j', async (principal) => {
      const { keys } = setup();
      await expect(keys.create({ principal })).rejects.toThrow(ValidationError);
    });

    it.each([[['Upper']], [['']], [Array.from({ length: 65 }, (_, i) => `p${i}`)]])(
      'rejects the policies %j',
      async (policies) => {
        const { keys } = setup();
        await expect(keys.create({ principal: 'ci', policies })).rejects.toThrow(ValidationError);
      },
    );
  });

  describe('secret storage', () => {
    it('never stores a secret access key in plaintext, in any form', async () => {
      const { store, keys } = setup();
      const created = await keys.create({ principal: 'ci-pipeline', policies: ['app'] });
      const imported = await keys.import({
        accessKeyId: 'LOCALKEY1',
        secretAccessKey: 'an imported secret that must stay hidden',
        principal: 'local',
      });
      await keys.setStatus(created.accessKeyId, 'inactive');
      await keys.setStatus(created.accessKeyId, 'active');

      const everything = JSON.stringify(store.written);
      expect(store.written.length).toBeGreaterThanOrEqual(4);
      for (const secret of [created.secretAccessKey, imported.secretAccessKey]) {
        for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')]) {
          expect(everything).not.toContain(form);
        }
      }
      const page = await store.query(ACCESS_KEY_PARTITION);
      expect(JSON.stringify(page.items)).not.toContain(created.secretAccessKey);
      expect(JSON.stringify(page.items)).not.toContain(imported.secretAccessKey);
    });

    it('seals each secret under a data key wrapped for that access key', async () => {
      const { keyProvider, keys, store } = setup();
      const { accessKeyId } = await keys.create({ principal: 'ci' });
      const item = await storedItem(store, accessKeyId);
      expect(item.sealed).toMatch(/^[A-Za-z0-9+/]+=*$/);
      await expect(
        keyProvider.unwrapDataKey(item.wrappedKey, { purpose: 'access-key', accessKeyId }),
      ).resolves.toHaveLength(32);
      await expect(
        keyProvider.unwrapDataKey(item.wrappedKey, { purpose: 'access-key', accessKeyId: 'OTHER' }),
      ).rejects.toThrow(DecryptionFailureError);
    });

    it('refuses to open a sealed secret moved to another access key', async () => {
      const { keys, store } = setup();
      const victim = await keys.create({ principal: 'victim' });
      const attacker = await keys.create({ principal: 'attacker' });
      const stolen = await storedItem(store, victim.accessKeyId);
      const target = await store.get<AccessKeyItem>(ACCESS_KEY_PARTITION, attacker.accessKeyId);
      await store.transact([
        {
          type: 'put',
          pk: ACCESS_KEY_PARTITION,
          sk: attacker.accessKeyId,
          data: { ...target!.data, sealed: stolen.sealed, wrappedKey: stolen.wrappedKey },
        },
      ]);
      await expect(keys.secretFor(attacker.accessKeyId)).rejects.toThrow(DecryptionFailureError);
    });
  });

  describe('import', () => {
    it("registers LocalStack's test/test pair", async () => {
      const { keys } = setup();
      const imported = await keys.import({
        accessKeyId: 'test',
        secretAccessKey: 'test',
        principal: 'localstack',
        policies: ['dev'],
      });
      expect(imported).toMatchObject({ accessKeyId: 'test', secretAccessKey: 'test' });
      expect(imported.record).toMatchObject({ accessKeyId: 'test', principal: 'localstack', policies: ['dev'] });
      const found = await keys.secretFor('test');
      expect(found?.secret).toBe('test');
      expect(found?.record).toEqual(imported.record);
    });

    it('refuses an access key id that exists', async () => {
      const { keys } = setup();
      await keys.import({ accessKeyId: 'test', secretAccessKey: 'test', principal: 'a' });
      await expect(keys.import({ accessKeyId: 'test', secretAccessKey: 'other', principal: 'b' })).rejects.toThrow(
        AlreadyExistsError,
      );
      expect((await keys.secretFor('test'))?.secret).toBe('test');
    });

    it.each([[''], ['has-dash'], ['with space'], ['A'.repeat(129)], ['ключ']])(
      'rejects the access key id %j',
      async (accessKeyId) => {
        const { keys } = setup();
        await expect(keys.import({ accessKeyId, secretAccessKey: 'secret', principal: 'a' })).rejects.toThrow(
          ValidationError,
        );
      },
    );

    it.each([
      ['empty', ''],
      ['a tab', 'tab\tsecret'],
      ['a newline', 'line\nsecret'],
      ['non-ASCII', 'sécretvalue'],
      ['too long', 'S'.repeat(129)],
    ])('rejects a secret with %s, without echoing it', async (_label, secretAccessKey) => {
      const { keys } = setup();
      const error = await keys.import({ accessKeyId: 'KEY1', secretAccessKey, principal: 'a' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ValidationError);
      if (secretAccessKey !== '') expect(JSON.stringify((error as Error).message)).not.toContain(secretAccessKey);
    });

    it('accepts a 128-character id and secret of any printable ASCII', async () => {
      const { keys } = setup();
      const secret = `${' !"#$%&'}${'~'.repeat(120)}`;
      await keys.import({ accessKeyId: 'A'.repeat(128), secretAccessKey: secret, principal: 'a' });
      expect((await keys.secretFor('A'.repeat(128)))?.secret).toBe(secret);
    });
  });

  describe('get and list', () => {
    it('describes a key without its secret or sealed form', async () => {
      const { keys } = setup();
      const { accessKeyId, record } = await keys.create({ principal: 'ci', policies: ['app'] });
      const described = await keys.get(accessKeyId);
      expect(described).toEqual(record);
      expect(Object.keys(described).sort()).toEqual(RECORD_KEYS);
    });

    it('throws NotFoundError for an unknown or malformed id', async () => {
      const { keys } = setup();
      await expect(keys.get('AKCFUNKNOWN')).rejects.toThrow(NotFoundError);
      await expect(keys.get('not/an/id')).rejects.toThrow(NotFoundError);
    });

    it('lists every key in id order, without secrets', async () => {
      const { keys } = setup();
      const created: AccessKeyRecord[] = [];
      for (const principal of ['a', 'b', 'c']) created.push((await keys.create({ principal })).record);
      created.push((await keys.import({ accessKeyId: 'test', secretAccessKey: 'test', principal: 'd' })).record);
      const listed = await keys.list();
      expect(listed).toEqual([...created].sort((x, y) => (x.accessKeyId < y.accessKeyId ? -1 : 1)));
      for (const record of listed) expect(Object.keys(record).sort()).toEqual(RECORD_KEYS);
    });

    it('lists an empty store as no keys', async () => {
      const { keys } = setup();
      await expect(keys.list()).resolves.toEqual([]);
    });
  });

  describe('setStatus', () => {
    it('deactivates a key so it yields no secret, and re-activates it', async () => {
      const { keys } = setup();
      const { accessKeyId, secretAccessKey } = await keys.create({ principal: 'ci' });
      expect((await keys.secretFor(accessKeyId))?.secret).toBe(secretAccessKey);

      const inactive = await keys.setStatus(accessKeyId, 'inactive');
      expect(inactive.status).toBe('inactive');
      expect((await keys.get(accessKeyId)).status).toBe('inactive');
      await expect(keys.secretFor(accessKeyId)).resolves.toBeUndefined();

      await keys.setStatus(accessKeyId, 'active');
      expect((await keys.secretFor(accessKeyId))?.secret).toBe(secretAccessKey);
    });

    it('throws NotFoundError for an unknown key', async () => {
      const { keys } = setup();
      await expect(keys.setStatus('AKCFNOPE', 'inactive')).rejects.toThrow(NotFoundError);
    });

    it('rejects a status other than active or inactive', async () => {
      const { keys } = setup();
      const { accessKeyId } = await keys.create({ principal: 'ci' });
      await expect(keys.setStatus(accessKeyId, 'disabled' as 'inactive')).rejects.toThrow(ValidationError);
    });
  });

  describe('delete', () => {
    it('removes the key and its sealed secret', async () => {
      const { keys, store } = setup();
      const { accessKeyId } = await keys.create({ principal: 'ci' });
      await keys.secretFor(accessKeyId);
      await keys.delete(accessKeyId);
      await expect(keys.get(accessKeyId)).rejects.toThrow(NotFoundError);
      await expect(keys.secretFor(accessKeyId)).resolves.toBeUndefined();
      expect(await store.get(ACCESS_KEY_PARTITION, accessKeyId)).toBeUndefined();
    });

    it('throws NotFoundError for an unknown key', async () => {
      const { keys } = setup();
      await expect(keys.delete('AKCFNOPE')).rejects.toThrow(NotFoundError);
      await expect(keys.delete('../etc')).rejects.toThrow(NotFoundError);
    });

    it('lets a deleted id be imported again with a new secret', async () => {
      const { keys } = setup();
      await keys.import({ accessKeyId: 'test', secretAccessKey: 'first', principal: 'a' });
      await keys.secretFor('test');
      await keys.delete('test');
      await keys.import({ accessKeyId: 'test', secretAccessKey: 'second', principal: 'a' });
      expect((await keys.secretFor('test'))?.secret).toBe('second');
    });
  });

  describe('secretFor cache', () => {
    it('decrypts a secret once per TTL', async () => {
      const { keys, keyProvider, advance } = setup({ cacheTtlMs: 60_000 });
      const { accessKeyId, secretAccessKey } = await keys.create({ principal: 'ci' });
      for (let i = 0; i < 5; i++) expect((await keys.secretFor(accessKeyId))?.secret).toBe(secretAccessKey);
      expect(keyProvider.calls.unwrap).toBe(1);
      advance(59_999);
      await keys.secretFor(accessKeyId);
      expect(keyProvider.calls.unwrap).toBe(1);
      advance(1);
      expect((await keys.secretFor(accessKeyId))?.secret).toBe(secretAccessKey);
      expect(keyProvider.calls.unwrap).toBe(2);
    });

    it('holds at most cacheMaxEntries secrets, dropping the least recently used', async () => {
      const { keys, keyProvider } = setup({ cacheMaxEntries: 2 });
      const [a, b, c] = [
        await keys.create({ principal: 'a' }),
        await keys.create({ principal: 'b' }),
        await keys.create({ principal: 'c' }),
      ];
      await keys.secretFor(a!.accessKeyId);
      await keys.secretFor(b!.accessKeyId);
      await keys.secretFor(a!.accessKeyId); // a is now the most recently used
      await keys.secretFor(c!.accessKeyId); // evicts b
      expect(keyProvider.calls.unwrap).toBe(3);
      await keys.secretFor(a!.accessKeyId);
      expect(keyProvider.calls.unwrap).toBe(3);
      await keys.secretFor(b!.accessKeyId);
      expect(keyProvider.calls.unwrap).toBe(4);
    });

    it('does not cache when the TTL is 0', async () => {
      const { keys, keyProvider } = setup({ cacheTtlMs: 0 });
      const { accessKeyId } = await keys.create({ principal: 'ci' });
      await keys.secretFor(accessKeyId);
      await keys.secretFor(accessKeyId);
      expect(keyProvider.calls.unwrap).toBe(2);
    });

    it('does not let a lookup that raced a deactivation cache the stale active key', async () => {
      const { keys, store } = setup();
      const { accessKeyId } = await keys.create({ principal: 'ci' });
      let release: (() => void) | undefined;
      store.holdNextGet = (resolve) => {
        release = resolve;
      };
      const racing = keys.secretFor(accessKeyId); // reads the active item, then waits
      await new Promise((resolve) => setImmediate(resolve));
      await keys.setStatus(accessKeyId, 'inactive');
      release!();
      expect((await racing)?.record.status).toBe('active');
      await expect(keys.secretFor(accessKeyId)).resolves.toBeUndefined();
    });

    it('returns undefined for an unknown or malformed id without touching the key provider', async () => {
      const { keys, keyProvider } = setup();
      await expect(keys.secretFor('AKCFUNKNOWN')).resolves.toBeUndefined();
      await expect(keys.secretFor('')).resolves.toBeUndefined();
      await expect(keys.secretFor('a/b')).resolves.toBeUndefined();
      expect(keyProvider.calls.unwrap).toBe(0);
    });
  });

  describe('creator rules', () => {
    const creator = (policies: string[], extra: Partial<Principal> = {}): Principal => ({
      type: 'token',
      id: 'acc_creator',
      displayName: 'ops',
      policies,
      metadata: { team: 'blue' },
      ...extra,
    });
    const SECRET = 'never-echo-this-secret-value-0123456789';

    it('lets a non-root creator grant only policies it holds, naming the others', async () => {
      const { keys } = setup();
      for (const policies of [['root'], ['app', 'billing', 'admin']]) {
        const err = await rejectionOf(keys.create({ policies }, creator(['app'])));
        expect(err).toBeInstanceOf(PermissionDeniedError);
        expect((err as Error).message).toContain(
          policies
            .filter((p) => p !== 'app')
            .sort()
            .join(', '),
        );
      }
      const err = await rejectionOf(
        keys.import({ accessKeyId: 'IMPORTED', secretAccessKey: SECRET, policies: ['root'] }, creator(['app'])),
      );
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect(
        JSON.stringify({ message: (err as Error).message, details: (err as PermissionDeniedError).details }),
      ).not.toContain(SECRET);
      expect(await keys.list()).toEqual([]);
    });

    it("gives a non-root creator's key the creator's identity and ceilings, and refuses another principal", async () => {
      const { keys } = setup();
      const ops = creator(['app', 'no-prod'], {
        ceilings: [{ id: 'acc_up', name: 'ops', metadata: {}, policies: ['app', 'no-prod', 'x'] }],
      });
      const { record } = await keys.create({ policies: ['app'] }, ops);
      expect(record).toMatchObject({ principal: 'ops', metadata: { team: 'blue' }, policies: ['app'] });
      expect(keys.toPrincipal(record)).toEqual({
        type: 'access-key',
        id: record.accessKeyId,
        displayName: 'ops',
        policies: ['app'],
        metadata: { team: 'blue', accessKeyId: record.accessKeyId },
        ceilings: [
          { id: 'acc_up', name: 'ops', metadata: {}, policies: ['app', 'no-prod', 'x'] },
          { id: 'acc_creator', name: 'ops', metadata: { team: 'blue' }, policies: ['app', 'no-prod'] },
        ],
      });
      expect((await keys.get(record.accessKeyId)).ceilings).toHaveLength(2);
      await expect(keys.create({ principal: 'ops', policies: ['app'] }, ops)).resolves.toBeDefined();
      await expect(keys.create({ principal: 'ci' }, ops)).rejects.toBeInstanceOf(PermissionDeniedError);
      await expect(
        keys.import({ accessKeyId: 'IMPORTED', secretAccessKey: SECRET, principal: 'ci' }, ops),
      ).rejects.toBeInstanceOf(PermissionDeniedError);
    });

    it("never lets a creator's metadata stand in for the key's own id", async () => {
      const { keys } = setup();
      const parentKey = creator(['app'], {
        type: 'access-key',
        id: 'AKCFPARENT',
        metadata: { accessKeyId: 'AKCFPARENT' },
      });
      const { record } = await keys.create({}, parentKey);
      expect(keys.toPrincipal(record).metadata.accessKeyId).toBe(record.accessKeyId);
    });

    it('lets a root creator name any principal and grant any policy, without ceilings', async () => {
      const { keys } = setup();
      const { record } = await keys.create({ principal: 'ci', policies: ['root', 'anything'] }, creator(['root']));
      expect(record).toMatchObject({ principal: 'ci', policies: ['anything', 'root'] });
      expect(keys.toPrincipal(record)).not.toHaveProperty('ceilings');
      expect(keys.toPrincipal(record).metadata).toEqual({ accessKeyId: record.accessKeyId });
      const defaulted = await keys.create({}, creator(['root']));
      expect(defaulted.record.principal).toBe('ops');
    });
  });

  describe('toPrincipal', () => {
    it('acts as an access-key principal named after its holder', async () => {
      const { keys } = setup();
      const { record } = await keys.create({ principal: 'ci-pipeline', policies: ['app'] });
      expect(keys.toPrincipal(record)).toEqual({
        type: 'access-key',
        id: record.accessKeyId,
        displayName: 'ci-pipeline',
        policies: ['app'],
        metadata: { accessKeyId: record.accessKeyId },
      });
    });
  });
});
