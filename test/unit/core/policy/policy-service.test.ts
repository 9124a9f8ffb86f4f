import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { ConflictError, InternalError, NotFoundError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { ROOT_POLICY } from '../../../../lambdas/core/policy/policy-engine.ts';
import { POLICY_PARTITION, PolicyService } from '../../../../lambdas/core/policy/policy-service.ts';
import type { PolicyDocument } from '../../../../lambdas/core/policy/policy-types.ts';
import type { Clock } from '../../../../lambdas/core/ports/clock.ts';
import { ConditionFailedError, type Store } from '../../../../lambdas/core/ports/store.ts';
import { NOW, request } from './fixtures.ts';

class FakeClock implements Clock {
  constructor(public time = NOW) {}
  now(): number {
    return this.time;
  }
}

/** Counts reads, and can be told to fail, to observe the cache. */
class SpyStore extends MemoryStore {
  reads = 0;
  failReads = false;
  override async get<T extends Record<string, unknown>>(pk: string, sk: string) {
    this.reads++;
    if (this.failReads) throw new Error('store down');
    return super.get<T>(pk, sk);
  }
}

const APP: PolicyDocument = { name: 'app', rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] };
const APP_V2: PolicyDocument = { name: 'app', rules: [{ path: 'secrets/app/*', capabilities: ['read', 'list'] }] };
const OPS: PolicyDocument = {
  name: 'ops',
  description: 'operators',
  rules: [{ path: 'sys/*', capabilities: ['sudo'] }],
};

function setup(options: { cacheTtlMs?: number } = {}) {
  const store = new SpyStore();
  const clock = new FakeClock();
  const service = new PolicyService({ store, clock, ...options });
  // A second instance over the same store stands in for another process.
  const other = new PolicyService({ store, clock, ...options });
  return { store, clock, service, other };
}

describe('Class: PolicyService', () => {
  describe('put / get', () => {
    it('stores a validated document and reads it back', async () => {
      const { service } = setup();
      expect(await service.put(APP)).toEqual(APP);
      expect(await service.get('app')).toEqual(APP);
    });

    it('keeps createdAt and moves updatedAt on replace', async () => {
      const { service, store, clock } = setup();
      await service.put(APP);
      clock.time += 60_000;
      await service.put(APP_V2);
      const item = await store.get(POLICY_PARTITION, 'app');
      expect(item?.data).toEqual({
        ...APP_V2,
        createdAt: new Date(NOW).toISOString(),
        updatedAt: new Date(NOW + 60_000).toISOString(),
      });
      expect(await service.get('app')).toEqual(APP_V2);
    });

    it('refuses an invalid document and stores nothing', async () => {
      const { service } = setup();
      await expect(service.put({ name: 'app', rules: [] })).rejects.toThrow(ValidationError);
      await expect(service.put({ name: 'app', rules: [{ path: 'a/*/b', capabilities: ['read'] }] })).rejects.toThrow(
        /rules\[0\]\.path/,
      );
      expect(await service.list()).toEqual(['root']);
    });

    it('refuses to write root', async () => {
      const { service } = setup();
      await expect(service.put({ name: 'root', rules: [{ path: '*', capabilities: ['read'] }] })).rejects.toThrow(
        ValidationError,
      );
      expect(await service.get('root')).toBe(ROOT_POLICY);
    });

    it('returns the built-in root policy', async () => {
      const { service } = setup();
      expect(await service.get('root')).toBe(ROOT_POLICY);
    });

    it('reports a missing policy', async () => {
      const { service } = setup();
      await expect(service.get('nope')).rejects.toThrow(NotFoundError);
    });

    it('rejects an invalid name', async () => {
      const { service } = setup();
      await expect(service.get('../etc')).rejects.toThrow(ValidationError);
    });

    it('gives up with a conflict when writers keep racing', async () => {
      const store = new MemoryStore();
      const racing: Store = {
        get: (pk, sk) => store.get(pk, sk),
        query: (pk, options) => store.query(pk, options),
        close: () => store.close(),
        transact: async () => {
          throw new ConditionFailedError(0, POLICY_PARTITION, 'app');
        },
      };
      const service = new PolicyService({ store: racing, clock: new FakeClock() });
      await expect(service.put(APP)).rejects.toThrow(ConflictError);
    });

    it('fails loudly on a corrupted stored document', async () => {
      const { service, store } = setup();
      await store.transact([{ type: 'put', pk: POLICY_PARTITION, sk: 'bad', data: { name: 'bad', rules: 'x' } }]);
      await expect(service.get('bad')).rejects.toThrow(InternalError);
      await expect(service.resolve(['bad'])).rejects.toThrow(InternalError);
    });
  });

  describe('list / delete', () => {
    it('lists every name with root, sorted', async () => {
      const { service } = setup();
      await service.put(OPS);
      await service.put(APP);
      await service.put({ ...APP, name: 'zeta' });
      expect(await service.list()).toEqual(['app', 'ops', 'root', 'zeta']);
    });

    it('lists past one store page', async () => {
      const { service } = setup();
      for (let i = 0; i < 1005; i++) await service.put({ ...APP, name: `p${String(i).padStart(4, '0')}` });
      const names = await service.list();
      expect(names).toHaveLength(1006);
      expect(names.at(-2)).toBe('p1004');
    });

    it('deletes a policy', async () => {
      const { service } = setup();
      await service.put(APP);
      await service.delete('app');
      await expect(service.get('app')).rejects.toThrow(NotFoundError);
      expect(await service.list()).toEqual(['root']);
    });

    it('refuses to delete root', async () => {
      const { service } = setup();
      await expect(service.delete('root')).rejects.toThrow(ValidationError);
    });

    it('reports deleting a missing policy', async () => {
      const { service } = setup();
      await expect(service.delete('nope')).rejects.toThrow(NotFoundError);
    });
  });

  describe('missing', () => {
    it('names the policies that do not exist, sorted, once each; root always exists', async () => {
      const { service } = setup();
      await service.put(APP);
      expect(await service.missing(['zeta', 'app', 'root', 'alpha', 'zeta'])).toEqual(['alpha', 'zeta']);
      expect(await service.missing([])).toEqual([]);
    });

    it('reads the store, not the cache: a policy another process deleted is missing at once', async () => {
      const { service, other } = setup({ cacheTtlMs: 60_000 });
      await service.put(APP);
      expect(await service.resolve(['app'])).toHaveLength(1);
      await other.delete('app');
      expect(await service.missing(['app'])).toEqual(['app']);
    });

    it('refuses an invalid name', async () => {
      const { service } = setup();
      await expect(service.missing(['Not A Name'])).rejects.toThrow(ValidationError);
    });
  });

  describe('resolve', () => {
    it('returns documents in order, skipping unknown and duplicate names', async () => {
      const { service } = setup();
      await service.put(APP);
      await service.put(OPS);
      const docs = await service.resolve(['ops', 'gone', 'root', 'app', 'ops', 'Not Valid']);
      expect(docs.map((d) => d.name)).toEqual(['ops', 'root', 'app']);
      expect(docs[1]).toBe(ROOT_POLICY);
    });

    it('returns frozen documents, so compiled forms cannot go stale', async () => {
      const { service } = setup();
      await service.put(APP);
      const [doc] = await service.resolve(['app']);
      expect(Object.isFrozen(doc)).toBe(true);
      expect(Object.isFrozen(doc!.rules[0])).toBe(true);
    });

    it('serves from cache until the TTL (default 5000 ms) passes', async () => {
      const { service, other, store, clock } = setup();
      await service.put(APP);
      const first = await service.resolve(['app']);
      await other.put(APP_V2);
      const readsBefore = store.reads;
      clock.time += 4999;
      const cached = await service.resolve(['app']);
      expect(cached[0]).toBe(first[0]);
      expect(store.reads).toBe(readsBefore);
      clock.time += 1;
      expect(await service.resolve(['app'])).toEqual([APP_V2]);
    });

    it('honours a custom TTL', async () => {
      const { service, other, clock } = setup({ cacheTtlMs: 100 });
      await service.put(APP);
      await service.resolve(['app']);
      await other.put(APP_V2);
      clock.time += 99;
      expect(await service.resolve(['app'])).toEqual([APP]);
      clock.time += 1;
      expect(await service.resolve(['app'])).toEqual([APP_V2]);
    });

    it('sees its own writes at once', async () => {
      const { service } = setup();
      await service.put(APP);
      await service.resolve(['app']);
      await service.put(APP_V2);
      expect(await service.resolve(['app'])).toEqual([APP_V2]);
    });

    it('sees its own deletes at once', async () => {
      const { service } = setup();
      await service.put(APP);
      await service.resolve(['app']);
      await service.delete('app');
      expect(await service.resolve(['app'])).toEqual([]);
    });

    it('caches unknown names for the TTL too', async () => {
      const { service, other, clock } = setup();
      expect(await service.resolve(['app'])).toEqual([]);
      await other.put(APP);
      expect(await service.resolve(['app'])).toEqual([]);
      clock.time += 5000;
      expect(await service.resolve(['app'])).toEqual([APP]);
    });

    it('drops the whole cache on invalidate', async () => {
      const { service, other } = setup();
      await service.put(APP);
      await service.resolve(['app']);
      await other.put(APP_V2);
      service.invalidate();
      expect(await service.resolve(['app'])).toEqual([APP_V2]);
    });

    it('shares one read between concurrent misses', async () => {
      const { service, store } = setup();
      await service.put(APP);
      const before = store.reads;
      await Promise.all([service.resolve(['app']), service.resolve(['app']), service.resolve(['app'])]);
      expect(store.reads).toBe(before + 1);
    });

    it('fails closed when the store fails, and does not cache the failure', async () => {
      const { service, store } = setup();
      await service.put(APP);
      store.failReads = true;
      await expect(service.resolve(['app'])).rejects.toThrow('store down');
      store.failReads = false;
      expect(await service.resolve(['app'])).toEqual([APP]);
    });
  });

  describe('test', () => {
    it('explains a decision over the named policies', async () => {
      const { service } = setup();
      await service.put(APP);
      const allowed = await service.test(request('secrets/app/db', 'read'), ['app']);
      expect(allowed).toMatchObject({ allowed: true, decidedBy: { policy: 'app', rule: 0, path: 'secrets/app/*' } });
      const denied = await service.test(request('secrets/app/db', 'list'), ['app', 'gone']);
      expect(denied.allowed).toBe(false);
      expect(denied.reason).toContain('does not grant list');
    });
  });
});
