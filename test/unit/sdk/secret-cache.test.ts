import { describe, expect, it } from 'vitest';
import { CofferNetworkError, CofferNotFoundError } from '../../../lambdas/sdk/errors.ts';
import { cacheKey, SecretCache, type SecretSource } from '../../../lambdas/sdk/secret-cache.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from '../../../lambdas/sdk/types.ts';

/** An in-memory secret store with call counters, standing in for Coffer. */
class FakeSource implements SecretSource {
  readonly versions_: Map<string, Array<{ id: string; value: string; stages: string[] }>> = new Map();
  fetches = 0;
  checks = 0;
  failChecks = false;
  /** When set, fetches wait for it: lets a test hold a fetch in flight. */
  gate: Promise<void> | undefined;

  put(name: string, value: string): string {
    const list = this.versions_.get(name) ?? [];
    const id = `v${list.length + 1}`;
    for (const v of list) {
      v.stages = v.stages.filter((s) => s !== 'AWSCURRENT' && s !== 'AWSPREVIOUS');
      if (v === list[list.length - 1]) v.stages.push('AWSPREVIOUS');
    }
    list.push({ id, value, stages: ['AWSCURRENT'] });
    this.versions_.set(name, list);
    return id;
  }

  async fetch(input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    this.fetches++;
    await this.gate;
    const list = this.versions_.get(input.secretId);
    const stage = input.versionStage ?? (input.versionId === undefined ? 'AWSCURRENT' : undefined);
    const v = list?.find(
      (x) => (input.versionId ?? x.id) === x.id && (stage === undefined || x.stages.includes(stage)),
    );
    if (v === undefined) throw new CofferNotFoundError('not found', { status: 404, code: 'not_found' });
    return {
      ARN: `arn:${input.secretId}`,
      Name: input.secretId,
      VersionId: v.id,
      SecretString: v.value,
      VersionStages: [...v.stages],
      CreatedDate: 1,
    };
  }

  async versions(secretId: string) {
    this.checks++;
    if (this.failChecks) throw new CofferNetworkError('down', { code: 'network' });
    const list = this.versions_.get(secretId);
    if (list === undefined) throw new CofferNotFoundError('not found', { status: 404, code: 'not_found' });
    return {
      versionIdsToStages: Object.fromEntries(list.filter((v) => v.stages.length > 0).map((v) => [v.id, [...v.stages]])),
      deleted: false,
    };
  }
}

function setup(options: ConstructorParameters<typeof SecretCache>[1] = {}) {
  const source = new FakeSource();
  let now = 1_000_000;
  const clock = {
    advance: (ms: number) => {
      now += ms;
    },
  };
  const cache = new SecretCache(source, { now: () => now, ...options });
  return { source, cache, clock };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('Class: SecretCache', () => {
  it('serves a second read from memory, and AWSCURRENT with or without the label from one entry', async () => {
    const { source, cache } = setup();
    source.put('db', 'one');
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('one');
    expect((await cache.get({ secretId: 'db', versionStage: 'AWSCURRENT' })).SecretString).toBe('one');
    expect(source.fetches).toBe(1);
    expect(cacheKey({ secretId: 'db' })).toBe(cacheKey({ secretId: 'db', versionStage: 'AWSCURRENT' }));
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, fetches: 1 });
  });

  it('coalesces concurrent misses of one key into one fetch', async () => {
    const { source, cache } = setup();
    source.put('db', 'one');
    const values = await Promise.all([1, 2, 3, 4].map(() => cache.get({ secretId: 'db' })));
    expect(values.map((v) => v.SecretString)).toEqual(['one', 'one', 'one', 'one']);
    expect(source.fetches).toBe(1);
  });

  it('after checkAfterMs, keeps the value when the label has not moved: one metadata read, no fetch', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    clock.advance(1500);
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('one');
    expect(source.checks).toBe(1);
    expect(source.fetches).toBe(1);
    expect(cache.stats().unchanged).toBe(1);
    // Re-confirmed: the next read within the window needs no call at all.
    clock.advance(500);
    await cache.get({ secretId: 'db' });
    expect(source.checks).toBe(1);
  });

  it('after a rotation, the check sees the label moved and the new value is fetched', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    source.put('db', 'two');
    clock.advance(999);
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('one');
    clock.advance(1);
    const after = await cache.get({ secretId: 'db' });
    expect(after.SecretString).toBe('two');
    expect(after.VersionId).toBe('v2');
    expect(source.fetches).toBe(2);
  });

  it('within the stale-while-revalidate window, serves at once and checks in the background', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000, staleWhileRevalidateMs: 1000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    source.put('db', 'two');
    clock.advance(1500);
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('one');
    expect(cache.stats().staleHits).toBe(1);
    await flush();
    await flush();
    expect(source.checks).toBe(1);
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('two');
  });

  it('beyond the window, a read waits for the check, so it never returns a value unconfirmed for that long', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000, staleWhileRevalidateMs: 1000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    source.put('db', 'two');
    clock.advance(2000);
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('two');
    expect(cache.stats().staleHits).toBe(0);
  });

  it('serves the cached value when the check fails (server unreachable), within expiry', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000, expireAfterMs: 10_000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    source.failChecks = true;
    clock.advance(5000);
    expect((await cache.get({ secretId: 'db' })).SecretString).toBe('one');
    expect(cache.stats().servedOnError).toBe(1);
  });

  it('stops serving a secret the check finds deleted: the read reports not-found', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000, expireAfterMs: 10_000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    source.versions_.delete('db');
    clock.advance(5000);
    await expect(cache.get({ secretId: 'db' })).rejects.toBeInstanceOf(CofferNotFoundError);
    expect(cache.stats().servedOnError).toBe(0);
  });

  it('fetches again after expireAfterMs whatever the checks said', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000, expireAfterMs: 3000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    clock.advance(3000);
    await cache.get({ secretId: 'db' });
    expect(source.fetches).toBe(2);
    expect(source.checks).toBe(0);
  });

  it('never checks a value addressed by version id: it cannot change', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000 });
    const v1 = source.put('db', 'one');
    source.put('db', 'two');
    await cache.get({ secretId: 'db', versionId: v1 });
    clock.advance(60_000);
    expect((await cache.get({ secretId: 'db', versionId: v1 })).SecretString).toBe('one');
    expect(source.checks).toBe(0);
    expect(source.fetches).toBe(1);
  });

  it('remembers a not-found answer for negativeTtlMs, then asks again', async () => {
    const { source, cache, clock } = setup({ negativeTtlMs: 1000 });
    await expect(cache.get({ secretId: 'nope' })).rejects.toBeInstanceOf(CofferNotFoundError);
    await expect(cache.get({ secretId: 'nope' })).rejects.toBeInstanceOf(CofferNotFoundError);
    expect(source.fetches).toBe(1);
    expect(cache.stats().negativeHits).toBe(1);
    source.put('nope', 'now it exists');
    clock.advance(1000);
    expect((await cache.get({ secretId: 'nope' })).SecretString).toBe('now it exists');
  });

  it('does not remember not-found answers when negativeTtlMs is 0', async () => {
    const { source, cache } = setup();
    await expect(cache.get({ secretId: 'nope' })).rejects.toBeInstanceOf(CofferNotFoundError);
    await expect(cache.get({ secretId: 'nope' })).rejects.toBeInstanceOf(CofferNotFoundError);
    expect(source.fetches).toBe(2);
  });

  it('refresh: true fetches even when the entry is fresh, and bypasses a negative entry', async () => {
    const { source, cache } = setup({ negativeTtlMs: 60_000 });
    source.put('db', 'one');
    await cache.get({ secretId: 'db' });
    source.put('db', 'two');
    expect((await cache.get({ secretId: 'db' }, { refresh: true })).SecretString).toBe('two');
    await expect(cache.get({ secretId: 'later' })).rejects.toBeInstanceOf(CofferNotFoundError);
    source.put('later', 'here');
    expect((await cache.get({ secretId: 'later' }, { refresh: true })).SecretString).toBe('here');
  });

  it('invalidate drops a secret’s entries, and a fetch sent before it does not store its older value', async () => {
    const { source, cache } = setup();
    source.put('db', 'one');
    let open: () => void = () => {};
    source.gate = new Promise((resolve) => {
      open = resolve;
    });
    const inFlight = cache.get({ secretId: 'db' });
    cache.invalidate('db');
    open();
    source.gate = undefined;
    await inFlight;
    await cache.get({ secretId: 'db' });
    expect(source.fetches).toBe(2);
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const { source, cache } = setup({ maxEntries: 2 });
    for (const name of ['a', 'b', 'c']) source.put(name, name);
    await cache.get({ secretId: 'a' });
    await cache.get({ secretId: 'b' });
    await cache.get({ secretId: 'a' }); // a is now the most recent
    await cache.get({ secretId: 'c' }); // evicts b
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 1 });
    await cache.get({ secretId: 'a' });
    expect(source.fetches).toBe(3);
    await cache.get({ secretId: 'b' });
    expect(source.fetches).toBe(4);
  });

  it('bounds the bytes held: large values evict older ones', async () => {
    const { source, cache } = setup({ maxBytes: 3000 });
    source.put('a', 'x'.repeat(1200));
    source.put('b', 'y'.repeat(1200));
    source.put('c', 'z'.repeat(1200));
    for (const name of ['a', 'b', 'c']) await cache.get({ secretId: name });
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(3000);
    expect(stats.entries).toBe(2);
  });

  it('checkDue re-confirms hot entries only, so reads of them do not wait', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000 });
    source.put('hot', 'h');
    source.put('cold', 'c');
    await cache.get({ secretId: 'hot' });
    await cache.get({ secretId: 'cold' });
    clock.advance(30_000);
    await cache.get({ secretId: 'hot' }); // waits for a check: now hot is recently used
    const checksBefore = source.checks;
    clock.advance(800);
    await cache.checkDue({ hotWindowMs: 10_000, minAgeMs: 500 });
    expect(source.checks).toBe(checksBefore + 1);
    source.put('hot', 'h2');
    clock.advance(800);
    await cache.checkDue({ hotWindowMs: 10_000, minAgeMs: 500 });
    expect(cache.peekFresh(cacheKey({ secretId: 'hot' }))?.SecretString).toBe('h2');
  });

  it('peekFresh answers only for entries that need no call', async () => {
    const { source, cache, clock } = setup({ checkAfterMs: 1000 });
    source.put('db', 'one');
    expect(cache.peekFresh(cacheKey({ secretId: 'db' }))).toBeUndefined();
    await cache.get({ secretId: 'db' });
    expect(cache.peekFresh(cacheKey({ secretId: 'db' }))?.SecretString).toBe('one');
    clock.advance(1000);
    expect(cache.peekFresh(cacheKey({ secretId: 'db' }))).toBeUndefined();
  });
});
