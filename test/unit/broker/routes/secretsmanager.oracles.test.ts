import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import type { SecretServiceOptions } from '../../../../lambdas/core/secrets/secret-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';
import { regionalSecretsDeps } from '../../../support/regional-secrets.ts';

/**
 * Security issue #11 through the whole broker, on both APIs: a writer who may not read learns nothing about a value
 * from a reused ClientRequestToken; an ARN denied tells nothing about what is behind it; versions and write rates
 * are bounded; strings that cannot be stored as they were sent are refused.
 */
type Json = Record<string, unknown>;

async function setup(options: Omit<SecretServiceOptions, 'store' | 'keyProvider' | 'clock'> = {}) {
  let now = Date.UTC(2026, 10, 1, 12, 0, 0);
  const clock = { now: () => now };
  const node = await memoryNode(clock);
  // Every metadata read of the secret service, to show what a request looked at.
  const reads: string[] = [];
  const store = new Proxy(node.store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'get' || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value;
      return (pk: string, sk: string) => {
        if (pk === 'secrets') reads.push(sk);
        return value.call(target, pk, sk);
      };
    },
  });
  const regional = regionalSecretsDeps({ store, keyProvider: new FakeKeyProvider(), clock, ...options });
  const broker = new Broker({ ...node.deps, ...regional }, nativeRoutes(), () => {});
  const root = node.rootToken;
  const rootRecord = await node.deps.tokens.lookup({ token: root });
  const tokenFor = async (name: string, rules: { path: string; capabilities: string[] }[]) => {
    await node.deps.policies.put({ name, rules });
    return (await node.deps.tokens.create(rootRecord, { policies: [name] })).token;
  };
  const call = async (method: string, path: string, body?: unknown, token = root) => {
    const res = await broker.handle(request(method, path, { token, body }));
    const parsed = JSON.parse(res.body || '{}') as { error?: Json } & Json;
    // The request id differs on every call; everything else must not.
    if (parsed.error !== undefined) delete parsed.error.requestId;
    return { status: res.status, body: parsed };
  };
  const sm = async (operation: string, body: unknown, token = root) => {
    const req = request('POST', '/v1/aws/secretsmanager', { token, body });
    const res = await broker.handle({
      ...req,
      headers: {
        ...req.headers,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `secretsmanager.${operation}`,
      },
    });
    return { status: res.status, body: JSON.parse(res.body || '{}') as Json };
  };
  return { node, secrets: regional.secrets, reads, call, sm, tokenFor, root, advance: (ms: number) => (now += ms) };
}

describe('Value oracle through ClientRequestToken', () => {
  it('answers a create-only caller alike for a right and a wrong guess (native PUT and create)', async () => {
    const t = await setup();
    const first = await t.call('PUT', '/v1/secret/data/app/db', { value: 'right-value' });
    const versionId = first.body.versionId as string;
    const creator = await t.tokenFor('creator', [{ path: 'secrets/app/*', capabilities: ['create'] }]);

    const put = async (value: string) =>
      t.call('PUT', '/v1/secret/data/app/db', { value, clientRequestToken: versionId }, creator);
    const right = await put('right-value');
    const wrong = await put('wrong-value');
    expect(right.status).toBe(409);
    expect(right).toEqual(wrong);

    const create = async (value: string) =>
      t.call('POST', '/v1/secrets', { name: 'app/db', value, clientRequestToken: versionId }, creator);
    const rightCreate = await create('right-value');
    expect(rightCreate.status).toBe(409);
    expect(rightCreate).toEqual(await create('wrong-value'));
    // Nothing changed.
    const read = await t.call('GET', '/v1/secret/data/app/db');
    expect(read.body).toMatchObject({ value: 'right-value', versionId });
  });

  it('answers a CreateSecret / PutSecretValue caller without read alike for a right and a wrong guess', async () => {
    const t = await setup();
    const token = '6f1c2a4e-9b1d-4c7e-8a2f-3d5b7c9e1f20';
    const created = await t.sm('CreateSecret', { Name: 'app/db', SecretString: 'right', ClientRequestToken: token });
    expect(created.status).toBe(200);
    const writer = await t.tokenFor('writer', [{ path: 'secrets/app/*', capabilities: ['create', 'update'] }]);

    const create = async (value: string) =>
      t.sm('CreateSecret', { Name: 'app/db', SecretString: value, ClientRequestToken: token }, writer);
    const rightCreate = await create('right');
    expect(rightCreate).toMatchObject({ status: 400, body: { __type: 'ResourceExistsException' } });
    expect(rightCreate).toEqual(await create('wrong'));

    for (const SecretId of ['app/db', created.body.ARN as string]) {
      const put = async (value: string) =>
        t.sm('PutSecretValue', { SecretId, SecretString: value, ClientRequestToken: token }, writer);
      const right = await put('right');
      expect(right).toMatchObject({ status: 400, body: { __type: 'ResourceExistsException' } });
      expect(right).toEqual(await put('wrong'));
      const update = async (value: string) =>
        t.sm('UpdateSecret', { SecretId, SecretString: value, ClientRequestToken: token }, writer);
      expect(await update('right')).toEqual(await update('wrong'));
    }
  });

  it('keeps idempotent retries for a caller who may read', async () => {
    const t = await setup();
    const reader = await t.tokenFor('rw', [{ path: 'secrets/app/*', capabilities: ['create', 'read', 'update'] }]);
    const token = '0b8e9f6a-1c2d-4e3f-9a8b-7c6d5e4f3a2b';
    const create = { Name: 'app/db', SecretString: 'v1', ClientRequestToken: token };
    const first = await t.sm('CreateSecret', create, reader);
    expect(first.status).toBe(200);
    expect(await t.sm('CreateSecret', create, reader)).toEqual(first);
    expect(await t.sm('CreateSecret', { ...create, SecretString: 'other' }, reader)).toMatchObject({
      status: 400,
      body: { __type: 'ResourceExistsException' },
    });

    const putToken = '1c9f0a7b-2d3e-4f5a-8b9c-0d1e2f3a4b5c';
    const put = { SecretId: 'app/db', SecretString: 'v2', ClientRequestToken: putToken };
    const firstPut = await t.sm('PutSecretValue', put, reader);
    expect(firstPut.status).toBe(200);
    expect(await t.sm('PutSecretValue', put, reader)).toEqual(firstPut);
    expect(await t.sm('PutSecretValue', { ...put, SecretString: 'v3' }, reader)).toMatchObject({
      status: 400,
      body: { __type: 'ResourceExistsException' },
    });

    const nativeToken = '2d0a1b8c-3e4f-4a5b-9c0d-1e2f3a4b5c6d';
    const native = { value: 'v4', clientRequestToken: nativeToken };
    const firstNative = await t.call('PUT', '/v1/secret/data/app/db', native, reader);
    expect(firstNative.status).toBe(200);
    expect(await t.call('PUT', '/v1/secret/data/app/db', native, reader)).toEqual(firstNative);
    expect((await t.call('PUT', '/v1/secret/data/app/db', { ...native, value: 'v5' }, reader)).status).toBe(409);
  });
});

describe('Partial-ARN oracle', () => {
  it('denies an ARN alike whether a secret is behind it or not, without naming it', async () => {
    const t = await setup();
    const { body } = await t.sm('CreateSecret', { Name: 'app/db', SecretString: 'v' });
    const arn = body.ARN as string;
    const partial = arn.slice(0, -7);
    const outsider = await t.tokenFor('outsider', [{ path: 'secrets/other/*', capabilities: ['read', 'update'] }]);
    const missingPartial = partial.replace('app/db', 'app/nope');
    const missingFull = `${missingPartial}-AbCdEf`;
    const bogusSuffix = `${partial}-${arn.endsWith('ZZZZZZ') ? 'YYYYYY' : 'ZZZZZZ'}`;

    for (const operation of ['GetSecretValue', 'DescribeSecret', 'PutSecretValue']) {
      const answers = [];
      for (const SecretId of [partial, arn, missingPartial, missingFull, bogusSuffix]) {
        const res = await t.sm(operation, { SecretId, SecretString: 'guess' }, outsider);
        expect(res.status).toBe(400);
        expect(res.body.__type).toBe('AccessDeniedException');
        expect(String(res.body.message)).not.toContain('secrets/app/db');
        answers.push(String(res.body.message).replace(SecretId, '<SecretId>'));
      }
      expect(new Set(answers).size).toBe(1);
    }
  });

  it('denies a full ARN alike when the caller may use its tail as a name but not the secret behind it', async () => {
    const t = await setup();
    const arn = (await t.sm('CreateSecret', { Name: 'app/db', SecretString: 'v' })).body.ARN as string;
    // A full ARN is also read as a partial one of `app/db-XXXXXX`, a name this caller may read.
    const tail = await t.tokenFor('tail', [{ path: 'secrets/app/db-*', capabilities: ['read'] }]);
    const missing = `${arn.slice(0, -7)}-${arn.endsWith('ZZZZZZ') ? 'YYYYYY' : 'ZZZZZZ'}`;
    const existing = await t.sm('GetSecretValue', { SecretId: arn }, tail);
    const absent = await t.sm('GetSecretValue', { SecretId: missing }, tail);
    expect(existing.body.__type).toBe('AccessDeniedException');
    expect(absent.body.__type).toBe('AccessDeniedException');
  });

  it('never reads the record behind an ARN for a caller who may not use its name', async () => {
    const t = await setup();
    const arn = (await t.sm('CreateSecret', { Name: 'app/db', SecretString: 'v' })).body.ARN as string;
    const outsider = await t.tokenFor('outsider', [{ path: 'secrets/app/db-*', capabilities: ['read', 'delete'] }]);
    t.reads.length = 0;
    for (const SecretId of [arn, arn.slice(0, -7)]) {
      expect((await t.sm('DescribeSecret', { SecretId }, outsider)).body.__type).toBe('AccessDeniedException');
      expect((await t.sm('DeleteSecret', { SecretId }, outsider)).body.__type).toBe('AccessDeniedException');
    }
    expect(t.reads).not.toContain('app/db');
    expect((await t.sm('DescribeSecret', { SecretId: 'app/db' })).body.ARN).toBe(arn);
  });

  it('still answers ResourceNotFoundException to a caller allowed on the names an ARN stands for', async () => {
    const t = await setup();
    const arn = (await t.sm('CreateSecret', { Name: 'app/db', SecretString: 'v' })).body.ARN as string;
    const insider = await t.tokenFor('insider', [{ path: 'secrets/app/*', capabilities: ['read'] }]);
    const missing = arn.replace('app/db', 'app/nope');
    expect((await t.sm('GetSecretValue', { SecretId: missing }, insider)).body.__type).toBe(
      'ResourceNotFoundException',
    );
    expect((await t.sm('GetSecretValue', { SecretId: arn.slice(0, -7) }, insider)).body.SecretString).toBe('v');
  });
});

describe('Bounded versions and write rate', () => {
  it('throttles writes to one secret beyond its rate: 429 natively, ThrottlingException for AWS', async () => {
    const t = await setup({ writeRate: { perSecond: 1, burst: 2 } });
    expect((await t.call('PUT', '/v1/secret/data/app/hot', { value: 'v1' })).status).toBe(200);
    expect((await t.call('PUT', '/v1/secret/data/app/hot', { value: 'v2' })).status).toBe(200);
    const native = await t.call('PUT', '/v1/secret/data/app/hot', { value: 'v3' });
    expect(native.status).toBe(429);
    expect(native.body.error).toMatchObject({ code: 'throttled' });
    const aws = await t.sm('PutSecretValue', { SecretId: 'app/hot', SecretString: 'v3' });
    expect(aws).toMatchObject({ status: 400, body: { __type: 'ThrottlingException' } });
    // Another secret is not slowed down by this one.
    expect((await t.call('PUT', '/v1/secret/data/app/cold', { value: 'v1' })).status).toBe(200);
    t.advance(1000);
    expect((await t.call('PUT', '/v1/secret/data/app/hot', { value: 'v3' })).status).toBe(200);
  });

  it('refuses a new version when the deprecated ones are all too young to prune', async () => {
    const t = await setup({ maxDeprecatedVersions: 2, writeRate: 'unlimited' });
    for (let i = 0; i < 4; i++) {
      expect((await t.call('PUT', '/v1/secret/data/app/busy', { value: `v${i}` })).status).toBe(200);
    }
    const native = await t.call('PUT', '/v1/secret/data/app/busy', { value: 'v4' });
    expect(native.status).toBe(429);
    expect(native.body.error).toMatchObject({ code: 'limit_exceeded' });
    const aws = await t.sm('PutSecretValue', { SecretId: 'app/busy', SecretString: 'v4' });
    expect(aws).toMatchObject({ status: 400, body: { __type: 'LimitExceededException' } });
    t.advance(24 * 60 * 60 * 1000 + 1);
    expect((await t.call('PUT', '/v1/secret/data/app/busy', { value: 'v4' })).status).toBe(200);
    const versions = await t.call('GET', '/v1/secret/versions/app/busy', undefined);
    expect(versions.body.versions).toHaveLength(2);
    const all = await t.sm('ListSecretVersionIds', { SecretId: 'app/busy', IncludeDeprecated: true });
    expect(all.body.Versions).toHaveLength(4);
  });
});

describe('Strict Unicode', () => {
  const lone = '\\ud800';

  it('refuses a lone surrogate in a native value, description or tag with 400, storing nothing', async () => {
    const t = await setup();
    for (const [method, path, raw] of [
      ['PUT', '/v1/secret/data/app/u', `{"value":"pass${lone}word"}`],
      ['POST', '/v1/secrets', `{"name":"app/u","value":"v","description":"${lone}"}`],
      ['POST', '/v1/secrets', `{"name":"app/u","value":"v","tags":{"k":"${lone}"}}`],
      ['POST', '/v1/secrets', `{"name":"app/u","value":"v","metadata":{"${lone}":"v"}}`],
    ] as const) {
      const res = await t.call(method, path, raw);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).not.toContain('pass');
    }
    expect((await t.call('GET', '/v1/secret/data/app/u')).status).toBe(404);
  });

  it('refuses a lone surrogate in any Secrets Manager string member with 400', async () => {
    const t = await setup();
    await t.sm('CreateSecret', { Name: 'app/ok', SecretString: 'v' });
    const cases: [string, string][] = [
      ['CreateSecret', `{"Name":"app/u","SecretString":"pass${lone}word"}`],
      ['CreateSecret', `{"Name":"app/u","SecretString":"v","Description":"${lone}"}`],
      ['CreateSecret', `{"Name":"app/u","SecretString":"v","Tags":[{"Key":"k","Value":"${lone}"}]}`],
      ['PutSecretValue', `{"SecretId":"app/ok","SecretString":"${lone}"}`],
      ['PutSecretValue', `{"SecretId":"app/ok","SecretString":"v","VersionStages":["${lone}"]}`],
      ['UpdateSecret', `{"SecretId":"app/ok","Description":"${lone}"}`],
      ['TagResource', `{"SecretId":"app/ok","Tags":[{"Key":"${lone}","Value":"v"}]}`],
      ['PutResourcePolicy', `{"SecretId":"app/ok","ResourcePolicy":"${lone}"}`],
    ];
    for (const [operation, raw] of cases) {
      const res = await t.sm(operation, raw);
      expect(res.status).toBe(400);
      expect(['ValidationException', 'InvalidParameterException']).toContain(res.body.__type);
      expect(String(res.body.message)).toMatch(/well-formed Unicode/);
    }
    expect((await t.sm('DescribeSecret', { SecretId: 'app/u' })).body.__type).toBe('ResourceNotFoundException');
    const ok = await t.sm('GetSecretValue', { SecretId: 'app/ok' });
    expect(ok.body).toMatchObject({ SecretString: 'v', VersionStages: ['AWSCURRENT'] });
    // No tag was stored: AWS leaves the member out.
    expect((await t.sm('DescribeSecret', { SecretId: 'app/ok' })).body).not.toHaveProperty('Tags');
  });

  it('keeps characters beyond the BMP (surrogate pairs) intact', async () => {
    const t = await setup();
    await t.sm('CreateSecret', { Name: 'app/emoji', SecretString: 'key 🔑' });
    expect((await t.sm('GetSecretValue', { SecretId: 'app/emoji' })).body.SecretString).toBe('key 🔑');
  });
});
