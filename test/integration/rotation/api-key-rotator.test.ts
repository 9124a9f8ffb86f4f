import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import {
  type RotationSecrets,
  RotationStepError,
  type RotatorContext,
  TransientRotationError,
} from '../../../lambdas/core/rotation/rotation-types.ts';
import { SecretService } from '../../../lambdas/core/secrets/secret-service.ts';
import type { SecretValue } from '../../../lambdas/core/secrets/secret-types.ts';
import {
  ApiKeyProviderError,
  ApiKeyProviderUnavailableError,
  type HttpApiKeySettings,
  type HttpApiKeySettingsInput,
  httpApiKeyRotator,
} from '../../../lambdas/engines/rotation/api-key/index.ts';
import { type ApiKeyService, startApiKeyService } from '../../support/api-key-service.ts';
import { loopbackEgress } from '../../support/egress.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';

const SECRET = 'svc/vendor/api-key';
const ADMIN_SECRET = 'vendors/example/admin';

let service: ApiKeyService;
let secrets: SecretService;
let readCurrent: RotationSecrets;
const rotator = httpApiKeyRotator();

beforeEach(async () => {
  service = await startApiKeyService();
  secrets = new SecretService({
    store: new MemoryStore(),
    keyProvider: new FakeKeyProvider(),
    clock: { now: Date.now },
  });
  await secrets.create({ name: ADMIN_SECRET, value: { kind: 'string', string: service.adminToken } });
  // What the rotation service hands a rotator: the AWSCURRENT value of another Coffer secret.
  readCurrent = {
    readCurrent: async (secretId) => (await secrets.get({ secretId })).value,
    egress: loopbackEgress(),
  };
});

afterEach(async () => {
  await service.close();
});

function settings(overrides: Partial<HttpApiKeySettingsInput> = {}): HttpApiKeySettings {
  return rotator.parseSettings({
    baseUrl: service.url,
    credentialSecret: ADMIN_SECRET,
    create: { path: '/keys' },
    test: { path: '/check' },
    revoke: { path: '/keys/{{keyId}}' },
    ...overrides,
  });
}

function context(
  s: HttpApiKeySettings,
  current: SecretValue | undefined,
  token: string = randomUUID(),
): RotatorContext<HttpApiKeySettings> {
  return {
    secretName: SECRET,
    arn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SECRET}-AbCdEf`,
    token,
    settings: s,
    secrets: readCurrent,
    now: Date.now(),
    current,
    previous: undefined,
    breach: false,
  };
}

const json = (value: SecretValue) => JSON.parse(value.kind === 'string' ? value.string : '') as Record<string, string>;
const text = (fields: Record<string, unknown>): SecretValue => ({ kind: 'string', string: JSON.stringify(fields) });

/** The current value before the first rotation: a key the vendor issued, plus a field the owner keeps. */
function initialValue() {
  const { id, key } = service.issue();
  return { value: text({ keyId: id, apiKey: key, endpoint: 'https://api.example.com' }), id, key };
}

/** Every string a message could leak: the admin credential and every key the service issued or may issue. */
function expectNoSecrets(err: unknown, secretsToHide: string[]) {
  expect(err).toBeInstanceOf(Error);
  const shown = `${(err as Error).message} ${JSON.stringify(err)} ${String((err as Error).stack)}`;
  for (const hidden of [service.adminToken, ...secretsToHide]) expect(shown).not.toContain(hidden);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('httpApiKeyRotator against a real HTTP key service', () => {
  it('rotates: creates the key, tests it, keeps the old key through the overlap, then revokes it', async () => {
    const s = settings({ overlapSeconds: 900 });
    const old = initialValue();
    const ctx = context(s, old.value);

    const pending = await rotator.createValue(ctx);
    const created = json(pending);
    expect(created.keyId).not.toBe(old.id);
    expect(created.endpoint).toBe('https://api.example.com');
    expect(service.isValid(created.apiKey!)).toBe(true);
    // The create call carried the admin credential from the other Coffer secret (the service refuses it otherwise).
    expect(service.requests.at(-1)).toMatchObject({ op: 'create', status: 201 });

    await rotator.setSecret(ctx, pending);
    await rotator.setSecret(ctx, pending);
    await rotator.testSecret(ctx, pending);
    await rotator.testSecret(ctx, pending);
    expect(service.requests.filter((r) => r.op === 'create')).toHaveLength(1);

    // finishSecret: the old value became AWSPREVIOUS, to be revoked after the overlap.
    const retired = await rotator.retire(context(s, pending), old.value);
    expect(retired).toEqual({ handle: { keyId: old.id }, afterMs: 900_000 });
    expect(service.isValid(old.key)).toBe(true);
    expect(service.isValid(created.apiKey!)).toBe(true);

    await rotator.revoke(s, retired!.handle, readCurrent);
    expect(service.isValid(old.key)).toBe(false);
    expect(service.isValid(created.apiKey!)).toBe(true);
    // Revoking again (a retried revocation) succeeds although the service answers 404 for a gone key.
    service.failNext('revoke', 404);
    await rotator.revoke(s, retired!.handle, readCurrent);
  });

  it('starts from a secret without a key and retires nothing then', async () => {
    const s = settings();
    const pending = await rotator.createValue(context(s, undefined));
    expect(Object.keys(json(pending)).sort()).toEqual(['apiKey', 'keyId']);
    expect(await rotator.retire(context(s, pending), text({ endpoint: 'x' }))).toBeUndefined();
  });

  it('defaults the overlap to an hour', async () => {
    const old = initialValue();
    expect((await rotator.retire(context(settings(), undefined), old.value))?.afterMs).toBe(3_600_000);
  });

  it('rollback revokes the pending key and leaves the current key working', async () => {
    const s = settings();
    const old = initialValue();
    const ctx = context(s, old.value);
    const pending = await rotator.createValue(ctx);
    const { apiKey } = json(pending);

    await rotator.rollback(ctx, pending);
    expect(service.isValid(apiKey!)).toBe(false);
    expect(service.isValid(old.key)).toBe(true);
    // Idempotent: a replayed rollback finds the key gone (404) and succeeds.
    await rotator.rollback(ctx, pending);
    expect(service.isValid(old.key)).toBe(true);
  });

  it('rollback without a pending value, or with the current key as pending, revokes nothing', async () => {
    const s = settings();
    const old = initialValue();
    await rotator.rollback(context(s, old.value), undefined);
    await rotator.rollback(context(s, old.value), old.value);
    await rotator.rollback(context(s, old.value), { kind: 'string', string: 'not json' });
    expect(service.isValid(old.key)).toBe(true);
    expect(service.requests.filter((r) => r.op === 'revoke')).toHaveLength(0);
  });

  it('fails testSecret with a RotationStepError when the service rejects the pending key', async () => {
    const s = settings();
    const old = initialValue();
    const ctx = context(s, old.value);
    const pending = await rotator.createValue(ctx);
    await rotator.rollback(ctx, pending);
    const err = await failure(rotator.testSecret(ctx, pending));
    expect(err).toBeInstanceOf(RotationStepError);
    expect(err).not.toBeInstanceOf(TransientRotationError);
    expect(err).toMatchObject({ step: 'test', status: 401 });
    expect(err.message).toContain('rejected the pending key');
    expectNoSecrets(err, [json(pending).apiKey!, old.key]);
  });

  /** Runs `op` against the service with its next answer forced to `status`; the error and the keys it must hide. */
  async function failedCall(op: 'create' | 'test' | 'revoke', status: number) {
    const s = settings();
    const old = initialValue();
    const ctx = context(s, old.value);
    const pending = op === 'create' ? undefined : await rotator.createValue(ctx);
    service.failNext(op, status);
    const call =
      op === 'create'
        ? rotator.createValue(ctx)
        : op === 'test'
          ? rotator.testSecret(ctx, pending!)
          : rotator.revoke(s, { keyId: old.id }, readCurrent);
    const err = await failure(call);
    expectNoSecrets(err, [old.key, ...(pending === undefined ? [] : [json(pending).apiKey!])]);
    return { err, ctx };
  }

  it.each(['create', 'test', 'revoke'] as const)('maps a 5xx from %s to a TransientRotationError', async (op) => {
    const { err, ctx } = await failedCall(op, 503);
    expect(err).toBeInstanceOf(TransientRotationError);
    expect(err).toBeInstanceOf(ApiKeyProviderUnavailableError);
    expect(err.name).toBe('TransientRotationError');
    expect(err).toMatchObject({ step: op, status: 503 });
    expect(err.message).toContain('HTTP 503');
    // A retry after the fault succeeds.
    if (op === 'create') expect(json(await rotator.createValue(ctx)).keyId).toBeTruthy();
  });

  it.each(['create', 'test', 'revoke'] as const)('maps a 4xx from %s to a RotationStepError', async (op) => {
    const { err } = await failedCall(op, 400);
    expect(err).toBeInstanceOf(RotationStepError);
    expect(err).toBeInstanceOf(ApiKeyProviderError);
    expect(err).not.toBeInstanceOf(TransientRotationError);
    expect(err).toMatchObject({ step: op, status: 400 });
    expect(err.message).toMatch(new RegExp(`^api-key-http ${op} \\(\\w+ /[^)]*\\): HTTP 400$`));
  });

  it('treats 429 as transient (rate limited)', async () => {
    service.failNext('create', 429);
    const err = await failure(rotator.createValue(context(settings(), undefined)));
    expect(err).toBeInstanceOf(TransientRotationError);
  });

  it('maps a service that drops connections, and one that is not listening, to TransientRotationError', async () => {
    const s = settings();
    service.down = true;
    const dropped = await failure(rotator.createValue(context(s, undefined)));
    expect(dropped).toBeInstanceOf(TransientRotationError);
    expect(dropped.message).toContain('network error');
    expectNoSecrets(dropped, []);
    service.down = false;

    const closedPort = await freePort();
    const refused = await failure(
      rotator.createValue(context(settings({ baseUrl: `http://127.0.0.1:${closedPort}` }), undefined)),
    );
    expect(refused).toBeInstanceOf(TransientRotationError);
    expect(refused.message).toContain('ECONNREFUSED');
    expectNoSecrets(refused, []);
  });

  it('maps a service that never answers to a TransientRotationError after timeoutMs', async () => {
    const s = settings({ timeoutMs: 200 });
    service.hangNext('create');
    const err = await failure(rotator.createValue(context(s, undefined)));
    expect(err).toBeInstanceOf(TransientRotationError);
    expect(err.message).toContain('timed out');
    expectNoSecrets(err, []);
    // Nothing was issued by the timed-out call.
    expect(service.keys()).toHaveLength(0);
  });

  it('fails with a RotationStepError naming the setting when the credential is wrong or missing', async () => {
    await secrets.put({ secretId: ADMIN_SECRET, value: { kind: 'string', string: 'not-the-admin-token' } });
    const wrong = await failure(rotator.createValue(context(settings(), undefined)));
    expect(wrong).toBeInstanceOf(RotationStepError);
    expect(wrong).toMatchObject({ step: 'create', status: 401 });
    expect(wrong.message).toContain('credentialSecret');
    expectNoSecrets(wrong, ['not-the-admin-token']);

    const missing = await failure(
      rotator.createValue(context(settings({ credentialSecret: 'vendors/nope' }), undefined)),
    );
    expect(missing).toBeInstanceOf(RotationStepError);
    expect(missing.message).toBe('credentialSecret vendors/nope has no current value');
  });

  it('sends the credential in a configured header, read from a field of a JSON secret', async () => {
    await service.close();
    service = await startApiKeyService({ adminHeader: 'x-admin-token', nested: true });
    await secrets.create({
      name: 'vendors/example/json',
      value: { kind: 'string', string: JSON.stringify({ user: 'ops', token: service.adminToken }) },
    });
    const s = settings({
      credentialSecret: 'vendors/example/json',
      credentialHeader: 'x-admin-token',
      credentialField: 'token',
      create: { path: '/keys', keyIdField: 'data.id', keyField: 'data.key' },
    });
    const pending = await rotator.createValue(context(s, undefined));
    expect(service.isValid(json(pending).apiKey!)).toBe(true);
    await rotator.revoke(s, { keyId: json(pending).keyId! }, readCurrent);
    expect(service.isValid(json(pending).apiKey!)).toBe(false);
  });

  it('URL-encodes the key id into path templates', async () => {
    await service.close();
    service = await startApiKeyService({ idPrefix: 'team a/key?' });
    await secrets.put({ secretId: ADMIN_SECRET, value: { kind: 'string', string: service.adminToken } });
    const s = settings();
    const pending = await rotator.createValue(context(s, undefined));
    const { keyId, apiKey } = json(pending);
    expect(keyId).toBe('team a/key?1');
    await rotator.revoke(s, { keyId: keyId! }, readCurrent);
    expect(service.requests.at(-1)).toMatchObject({ op: 'revoke', path: '/keys/team%20a%2Fkey%3F1', status: 204 });
    expect(service.isValid(apiKey!)).toBe(false);
  });

  it('refuses a key id that URL normalisation would collapse, without calling the service', async () => {
    const err = await failure(rotator.revoke(settings(), { keyId: '..' }, readCurrent));
    expect(err).toBeInstanceOf(RotationStepError);
    expect(service.requests).toHaveLength(0);
  });

  it('fails createValue on a response without the configured fields, and on a current value that is not JSON', async () => {
    const s = settings({ create: { path: '/keys', keyField: 'secret' } });
    const err = await failure(rotator.createValue(context(s, undefined)));
    expect(err).toBeInstanceOf(RotationStepError);
    expect(err.message).toContain('no usable key in secret');
    // The key the provider made anyway was taken back.
    expect(service.keys()).toEqual([{ id: 'key-1', revoked: true }]);

    const before = service.keys().length;
    const notJson = await failure(rotator.createValue(context(settings(), { kind: 'string', string: 'raw-key' })));
    expect(notJson).toBeInstanceOf(RotationStepError);
    expect(notJson.message).not.toContain('raw-key');
    // Nothing was created at the provider for a value that could not have been stored.
    expect(service.keys()).toHaveLength(before);
  });
});

describe('httpApiKeyRotator settings', () => {
  const base = {
    baseUrl: 'https://api.example.com/v2',
    credentialSecret: ADMIN_SECRET,
    create: { path: '/keys' },
    test: { path: '/whoami' },
    revoke: { path: '/keys/{{keyId}}' },
  };

  it('fills in the defaults', () => {
    expect(rotator.parseSettings(base)).toEqual({
      ...base,
      create: { method: 'POST', path: '/keys', keyIdField: 'id', keyField: 'key' },
      test: { method: 'GET', path: '/whoami', keyHeader: 'x-api-key' },
      revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
      overlapSeconds: 3600,
      timeoutMs: 10_000,
    });
  });

  it.each([
    ['a non-http base URL', { baseUrl: 'ftp://example.com' }, 'baseUrl'],
    ['credentials in the base URL', { baseUrl: 'https://user:pw@example.com' }, 'baseUrl'],
    ['a revoke path without {{keyId}}', { revoke: { path: '/keys' } }, 'revoke.path'],
    ['{{keyId}} in the create path', { create: { path: '/keys/{{keyId}}' } }, 'create.path'],
    ['an unknown placeholder', { test: { path: '/check/{{name}}' } }, 'test.path'],
    ['a relative path', { test: { path: 'check' } }, 'test.path'],
    ['an overlap over 30 days', { overlapSeconds: 30 * 24 * 3600 + 1 }, 'overlapSeconds'],
    ['a negative overlap', { overlapSeconds: -1 }, 'overlapSeconds'],
    ['an invalid header name', { credentialHeader: 'x bad' }, 'credentialHeader'],
    ['an unknown setting', { password: 'hunter2' }, ''],
    ['a missing credential secret', { credentialSecret: undefined }, 'credentialSecret'],
  ])('rejects %s, naming the setting', (_what, override, setting) => {
    let err: unknown;
    try {
      rotator.parseSettings({ ...base, ...override });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toContain(`invalid api-key-http settings${setting === '' ? '' : ` ${setting}`}`);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('accepts an overlap of zero and of exactly 30 days', () => {
    expect(rotator.parseSettings({ ...base, overlapSeconds: 0 }).overlapSeconds).toBe(0);
    expect(rotator.parseSettings({ ...base, overlapSeconds: 2_592_000 }).overlapSeconds).toBe(2_592_000);
  });
});

/** A port nothing listens on: bound, read, released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
