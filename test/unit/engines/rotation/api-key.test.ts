import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsEgressGuard } from '../../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { EgressPolicy } from '../../../../lambdas/core/egress/egress-policy.ts';
import { AlreadyExistsError, InvalidRequestError, ValidationError } from '../../../../lambdas/core/errors.ts';
import {
  RotationStepError,
  type RotatorContext,
  TransientRotationError,
} from '../../../../lambdas/core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../../lambdas/core/secrets/secret-types.ts';
import {
  API_KEY_PARTITION,
  ApiKeyRegistry,
  type CofferApiKeySettings,
  cofferApiKeyRotator,
  parseKey,
} from '../../../../lambdas/engines/rotation/api-key/index.ts';

// Spy on the comparison the registry must use, keeping its real behaviour.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SECRET = 'svc/billing/api-key';
const sha256hex = (value: string) => createHash('sha256').update(value).digest('hex');

let store: MemoryStore;
let now: number;
const clock = { now: () => now };

beforeEach(() => {
  store = new MemoryStore();
  now = Date.UTC(2026, 0, 1);
  vi.mocked(timingSafeEqual).mockClear();
});

async function storedItems() {
  return (await store.query(API_KEY_PARTITION, { limit: 1000 })).items;
}

describe('Class: ApiKeyRegistry', () => {
  it('issues cfk_<keyId>_<secret> keys with 256 random bits, the key id recoverable from the key', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const { keyId, apiKey } = await registry.register({ secretName: SECRET });
    expect(apiKey).toMatch(/^cfk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(apiKey.startsWith(`cfk_${keyId}_`)).toBe(true);
    expect(parseKey(apiKey)).toEqual({ keyId });
    // 43 base64url characters decode to 32 bytes.
    expect(Buffer.from(apiKey.slice(`cfk_${keyId}_`.length), 'base64url')).toHaveLength(32);
    const other = await registry.register({ secretName: SECRET });
    expect(other.keyId).not.toBe(keyId);
    expect(other.apiKey).not.toBe(apiKey);
  });

  it('stores only a SHA-256 of the key, never the key or its secret part', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const { keyId, apiKey } = await registry.register({
      secretName: SECRET,
      scopes: ['billing:read'],
      rotationToken: randomUUID(),
    });
    const items = await storedItems();
    expect(items.length).toBeGreaterThan(0);
    const dump = JSON.stringify(items);
    expect(dump).not.toContain(apiKey);
    expect(dump).not.toContain(apiKey.slice(`cfk_${keyId}_`.length));
    const key = items.find((item) => item.sk === `key#${keyId}`)!;
    expect(key.data).toMatchObject({
      keyId,
      secretName: SECRET,
      hash: sha256hex(apiKey),
      state: 'active',
      scopes: ['billing:read'],
      createdAt: now,
    });
    expect(await registry.describe(keyId)).not.toHaveProperty('hash');
  });

  it('validates an active key with its key id, owning secret and scopes', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const { keyId, apiKey } = await registry.register({ secretName: SECRET, scopes: ['a', 'b', 'a'] });
    expect(await registry.validate(apiKey)).toEqual({ valid: true, keyId, secretName: SECRET, scopes: ['a', 'b'] });
  });

  it('refuses malformed, unknown and tampered keys without saying which', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const { keyId, apiKey } = await registry.register({ secretName: SECRET });
    const flipped = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');
    const unknownId = `cfk_${'a'.repeat(16)}_${apiKey.slice(`cfk_${keyId}_`.length)}`;
    for (const candidate of [flipped, unknownId, '', 'cfk_', apiKey.toUpperCase(), `${apiKey}x`, apiKey.slice(1)]) {
      expect(await registry.validate(candidate)).toEqual({ valid: false });
    }
  });

  it('compares hashes with timingSafeEqual, for known and unknown key ids alike', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const { keyId, apiKey } = await registry.register({ secretName: SECRET });
    vi.mocked(timingSafeEqual).mockClear();
    await registry.validate(apiKey);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    const [presented, stored] = vi.mocked(timingSafeEqual).mock.calls[0]!;
    expect(Buffer.from(presented as Uint8Array).toString('hex')).toBe(sha256hex(apiKey));
    expect(Buffer.from(stored as Uint8Array).toString('hex')).toBe(sha256hex(apiKey));

    vi.mocked(timingSafeEqual).mockClear();
    await registry.validate(`cfk_${'b'.repeat(16)}_${apiKey.slice(`cfk_${keyId}_`.length)}`);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
  });

  it('revokes idempotently: the key stops validating, a second revoke and an unknown id are no-ops', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const kept = await registry.register({ secretName: SECRET });
    const { keyId, apiKey } = await registry.register({ secretName: SECRET });
    now += 1000;
    expect(await registry.revoke(keyId)).toBe(true);
    expect(await registry.validate(apiKey)).toEqual({ valid: false });
    expect(await registry.describe(keyId)).toMatchObject({ state: 'revoked', revokedAt: now });
    expect(await registry.revoke(keyId)).toBe(false);
    expect(await registry.revoke('a'.repeat(16))).toBe(false);
    expect(await registry.revoke('not a key id')).toBe(false);
    expect((await registry.validate(kept.apiKey)).valid).toBe(true);
  });

  it('registers an existing key again idempotently, but not for another secret, nor once revoked', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const { keyId, apiKey } = await registry.register({ secretName: SECRET });
    expect(await registry.register({ secretName: SECRET, apiKey })).toEqual({ keyId, apiKey });
    await expect(registry.register({ secretName: 'svc/other', apiKey })).rejects.toBeInstanceOf(AlreadyExistsError);
    await registry.revoke(keyId);
    await expect(registry.register({ secretName: SECRET, apiKey })).rejects.toBeInstanceOf(InvalidRequestError);
    const malformed = registry.register({ secretName: SECRET, apiKey: 'plain-text-key' });
    await expect(malformed).rejects.toBeInstanceOf(ValidationError);
    await expect(malformed).rejects.not.toThrow(/plain-text-key/);
  });

  it('rejects malformed secret names and scopes', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    await expect(registry.register({ secretName: 'bad name!' })).rejects.toBeInstanceOf(ValidationError);
    await expect(registry.register({ secretName: SECRET, scopes: ['no spaces'] })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await storedItems()).toHaveLength(0);
  });

  it('lists the keys a rotation registered for a secret until they are revoked', async () => {
    const registry = new ApiKeyRegistry({ store, clock });
    const token = randomUUID();
    const a = await registry.register({ secretName: SECRET, rotationToken: token });
    await registry.register({ secretName: 'svc/other', rotationToken: token });
    await registry.register({ secretName: SECRET, rotationToken: randomUUID() });
    expect(await registry.keysOfRotation(SECRET, token)).toEqual([a.keyId]);
    await registry.revoke(a.keyId);
    expect(await registry.keysOfRotation(SECRET, token)).toEqual([]);
  });
});

describe('cofferApiKeyRotator', () => {
  const rotator = () => cofferApiKeyRotator({ store, clock });
  const noSecrets = {
    egress: new DnsEgressGuard(EgressPolicy.none()),
    readCurrent: async () => {
      throw new Error('the coffer rotator reads no other secret');
    },
  };
  const json = (value: SecretValue) =>
    JSON.parse(value.kind === 'string' ? value.string : '') as Record<string, string>;
  const text = (fields: Record<string, unknown>): SecretValue => ({ kind: 'string', string: JSON.stringify(fields) });

  function context(
    settings: CofferApiKeySettings,
    current: SecretValue | undefined,
    token: string = randomUUID(),
    secretName = SECRET,
  ): RotatorContext<CofferApiKeySettings> {
    return {
      secretName,
      arn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${secretName}-AbCdEf`,
      token,
      settings,
      secrets: noSecrets,
      now,
      current,
      previous: undefined,
      breach: false,
    };
  }

  it('rotates: new key valid at once, old key valid through the overlap, then revoked', async () => {
    const r = rotator();
    const registry = new ApiKeyRegistry({ store, clock });
    const settings = r.parseSettings({ overlapSeconds: 600, scopes: ['billing:read'] });
    const first = await r.createValue(context(settings, text({ owner: 'team-billing' })));
    const old = json(first);
    expect(old.owner).toBe('team-billing');

    const ctx = context(settings, first);
    const pending = await r.createValue(ctx);
    const next = json(pending);
    expect(next).toMatchObject({ owner: 'team-billing' });
    expect(next.keyId).not.toBe(old.keyId);
    await r.setSecret(ctx, pending);
    await r.setSecret(ctx, pending);
    await r.testSecret(ctx, pending);
    expect(await registry.validate(next.apiKey!)).toEqual({
      valid: true,
      keyId: next.keyId,
      secretName: SECRET,
      scopes: ['billing:read'],
    });

    const retired = await r.retire(context(settings, pending), first);
    expect(retired).toEqual({ handle: { keyId: old.keyId, secretName: SECRET }, afterMs: 600_000 });
    expect((await registry.validate(old.apiKey!)).valid).toBe(true);
    await r.revoke(settings, retired!.handle, noSecrets);
    expect((await registry.validate(old.apiKey!)).valid).toBe(false);
    expect((await registry.validate(next.apiKey!)).valid).toBe(true);
    await r.revoke(settings, retired!.handle, noSecrets);
  });

  it('rollback revokes the pending key and never the current one', async () => {
    const r = rotator();
    const registry = new ApiKeyRegistry({ store, clock });
    const settings = r.parseSettings({});
    const current = await r.createValue(context(settings, undefined));
    const ctx = context(settings, current);
    const pending = await r.createValue(ctx);
    await r.rollback(ctx, pending);
    expect((await registry.validate(json(pending).apiKey!)).valid).toBe(false);
    expect((await registry.validate(json(current).apiKey!)).valid).toBe(true);
    await r.rollback(ctx, pending);
    await r.rollback(ctx, current);
    expect((await registry.validate(json(current).apiKey!)).valid).toBe(true);
  });

  it('rollback finds the key of a rotation whose pending value was never stored', async () => {
    const r = rotator();
    const registry = new ApiKeyRegistry({ store, clock });
    const settings = r.parseSettings({});
    const token = randomUUID();
    // createValue ran, then the node died before AWSPENDING was written: rollback gets no pending value.
    const lost = await r.createValue(context(settings, undefined, token));
    await r.rollback(context(settings, undefined, token), undefined);
    expect((await registry.validate(json(lost).apiKey!)).valid).toBe(false);
  });

  it("rollback and revoke leave another secret's key alone even when a value names it", async () => {
    const r = rotator();
    const registry = new ApiKeyRegistry({ store, clock });
    const settings = r.parseSettings({});
    const foreign = await r.createValue(context(settings, undefined, randomUUID(), 'svc/other'));
    await r.rollback(context(settings, undefined), foreign);
    expect((await registry.validate(json(foreign).apiKey!)).valid).toBe(true);
    const retired = await r.retire(context(settings, undefined), foreign);
    await r.revoke(settings, retired!.handle, noSecrets);
    expect((await registry.validate(json(foreign).apiKey!)).valid).toBe(true);
  });

  it('testSecret fails with a RotationStepError for a revoked key and for a key of another secret', async () => {
    const r = rotator();
    const registry = new ApiKeyRegistry({ store, clock });
    const settings = r.parseSettings({});
    const ctx = context(settings, undefined);
    const pending = await r.createValue(ctx);
    await expect(r.testSecret(context(settings, undefined, randomUUID(), 'svc/other'), pending)).rejects.toThrow(
      'the pending API key belongs to another key id or secret',
    );
    await registry.revoke(json(pending).keyId!);
    const err = await r.testSecret(ctx, pending).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(RotationStepError);
    expect(err).not.toBeInstanceOf(TransientRotationError);
    expect((err as Error).message).not.toContain(json(pending).apiKey!);
    await expect(r.setSecret(ctx, pending)).rejects.toThrow('the pending API key has been revoked');
  });

  it('setSecret registers the pending key again if the registry lost it', async () => {
    const r = rotator();
    const registry = new ApiKeyRegistry({ store, clock });
    const settings = r.parseSettings({ scopes: ['x'] });
    const ctx = context(settings, undefined);
    const pending = await r.createValue(ctx);
    await store.transact([{ type: 'delete', pk: API_KEY_PARTITION, sk: `key#${json(pending).keyId}` }]);
    await expect(r.testSecret(ctx, pending)).rejects.toBeInstanceOf(RotationStepError);
    await r.setSecret(ctx, pending);
    await r.testSecret(ctx, pending);
    expect(await registry.validate(json(pending).apiKey!)).toMatchObject({ valid: true, scopes: ['x'] });
  });

  it('refuses a current value that is not a JSON object before registering anything', async () => {
    const r = rotator();
    const settings = r.parseSettings({});
    for (const current of [
      { kind: 'string', string: 'raw-key-value' },
      { kind: 'string', string: '[1,2]' },
      { kind: 'binary', binary: Buffer.from('raw') },
    ] as SecretValue[]) {
      const err = await r.createValue(context(settings, current)).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(RotationStepError);
      expect((err as Error).message).not.toContain('raw-key-value');
    }
    expect(await storedItems()).toHaveLength(0);
    await expect(r.testSecret(context(settings, undefined), text({ other: 1 }))).rejects.toThrow(
      'the pending value has no keyId and apiKey',
    );
  });

  it('validates settings: defaults, bounds, scopes and unknown fields', () => {
    const r = rotator();
    expect(r.parseSettings({})).toEqual({ overlapSeconds: 3600, scopes: [] });
    expect(r.parseSettings({ overlapSeconds: 0, scopes: ['svc:read'] })).toEqual({
      overlapSeconds: 0,
      scopes: ['svc:read'],
    });
    for (const [input, setting] of [
      [{ overlapSeconds: -1 }, 'overlapSeconds'],
      [{ overlapSeconds: 2_592_001 }, 'overlapSeconds'],
      [{ overlapSeconds: 1.5 }, 'overlapSeconds'],
      [{ scopes: ['has space'] }, 'scopes.0'],
      [{ scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) }, 'scopes'],
      [{ extra: true }, ''],
      [null, ''],
    ] as const) {
      expect(() => r.parseSettings(input)).toThrow(ValidationError);
      expect(() => r.parseSettings(input)).toThrow(`invalid api-key-coffer settings${setting ? ` ${setting}` : ''}:`);
    }
  });

  it('retires nothing when the previous value holds no key', async () => {
    const r = rotator();
    expect(await r.retire(context(r.parseSettings({}), undefined), text({ note: 'no key' }))).toBeUndefined();
  });
});
