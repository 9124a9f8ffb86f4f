import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../../lambdas/broker/routes/index.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';
import { MemoryKeyRing } from '../../../../support/memory-key-ring.ts';
import { memoryNode, request } from '../../../../support/memory-node.ts';
import { regionalSecretsDeps } from '../../../../support/regional-secrets.ts';

/**
 * `KmsKeyId` through the whole broker, on both APIs: the caller must be allowed to use the key (`read` on
 * `sys/keyring/keys/<alias>`), refusals come in AWS's words, DescribeSecret shows the key's ARN and leaves it out for
 * the default key, and a key change re-encrypts only for a caller who may use the previous key.
 */
type Json = Record<string, unknown>;

async function setup() {
  const node = await memoryNode();
  const keyRing = new MemoryKeyRing();
  const blue = await keyRing.create('blue');
  const green = await keyRing.create('green');
  const { replicator: _replicator, ...regional } = regionalSecretsDeps({
    store: node.store,
    keyProvider: new FakeKeyProvider(),
    keyRing,
    clock: node.deps.clock,
  });
  const secrets = regional.secrets;
  const broker = new Broker(
    { ...node.deps, ...regional, keys: keyRing, system: { ...node.deps.system, createKey: keyRing.create } },
    nativeRoutes(),
    () => {},
  );
  const rootRecord = await node.deps.tokens.lookup({ token: node.rootToken });
  const tokenFor = async (name: string, rules: { path: string; capabilities: string[] }[]) => {
    await node.deps.policies.put({ name, rules });
    return (await node.deps.tokens.create(rootRecord, { policies: [name] })).token;
  };
  const sm = async (operation: string, body: unknown, token = node.rootToken) => {
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
  const call = async (method: string, path: string, body?: unknown, token = node.rootToken) => {
    const res = await broker.handle(request(method, path, { token, body }));
    return { status: res.status, body: JSON.parse(res.body || '{}') as Json };
  };
  return { node, keyRing, blue, green, secrets, sm, call, tokenFor };
}

const WRITER = [{ path: 'secrets/*', capabilities: ['create', 'read', 'update'] }];

describe('KmsKeyId (Secrets Manager API)', () => {
  it('creates a secret under a key named by alias and shows its ARN in DescribeSecret and ListSecrets', async () => {
    const { sm, blue } = await setup();
    expect((await sm('CreateSecret', { Name: 'db', SecretString: 'v', KmsKeyId: 'alias/blue' })).status).toBe(200);
    const described = await sm('DescribeSecret', { SecretId: 'db' });
    expect(described.body.KmsKeyId).toBe(blue.arn);
    // AWS's member order: ARN, Name, (Description,) KmsKeyId, …
    expect(Object.keys(described.body).slice(0, 3)).toEqual(['ARN', 'Name', 'KmsKeyId']);
    const listed = await sm('ListSecrets', {});
    expect((listed.body.SecretList as Json[])[0]!.KmsKeyId).toBe(blue.arn);
    expect((await sm('GetSecretValue', { SecretId: 'db' })).body.SecretString).toBe('v');
  });

  it('leaves KmsKeyId out for the default key, named or not', async () => {
    const { sm } = await setup();
    await sm('CreateSecret', { Name: 'a', SecretString: 'v' });
    await sm('CreateSecret', { Name: 'b', SecretString: 'v', KmsKeyId: 'alias/aws/secretsmanager' });
    await sm('CreateSecret', { Name: 'c', SecretString: 'v', KmsKeyId: '' });
    for (const name of ['a', 'b', 'c']) {
      expect((await sm('DescribeSecret', { SecretId: name })).body).not.toHaveProperty('KmsKeyId');
    }
  });

  it("refuses a caller without read on the key's path with AccessDeniedException, creating nothing", async () => {
    const { sm, tokenFor } = await setup();
    const token = await tokenFor('writer', WRITER);
    const refused = await sm('CreateSecret', { Name: 'db', SecretString: 'v', KmsKeyId: 'alias/blue' }, token);
    expect(refused).toEqual({
      status: 400,
      body: { __type: 'AccessDeniedException', message: 'Access to KMS is not allowed' },
    });
    expect((await sm('DescribeSecret', { SecretId: 'db' })).body.__type).toBe('ResourceNotFoundException');
    // The same answer for a key that does not exist: a refused caller learns nothing of the key ring.
    expect(await sm('CreateSecret', { Name: 'db', SecretString: 'v', KmsKeyId: 'alias/nope' }, token)).toEqual(refused);
  });

  it('checks each replica key as the primary key: refused before anything is created, shown as the key ARN', async () => {
    const { sm, tokenFor, green } = await setup();
    const replicator = [
      { path: 'secrets/*', capabilities: ['create', 'read', 'update'] },
      { path: 'sys/keyring/keys/blue', capabilities: ['read'] },
    ];
    const token = await tokenFor('replicator', replicator);
    const refused = await sm(
      'CreateSecret',
      { Name: 'r', SecretString: 'v', AddReplicaRegions: [{ Region: 'us-west-2', KmsKeyId: 'alias/green' }] },
      token,
    );
    expect(refused.body).toEqual({ __type: 'AccessDeniedException', message: 'Access to KMS is not allowed' });
    expect((await sm('DescribeSecret', { SecretId: 'r' })).body.__type).toBe('ResourceNotFoundException');
    const created = await sm('CreateSecret', {
      Name: 'r',
      SecretString: 'v',
      AddReplicaRegions: [{ Region: 'us-west-2', KmsKeyId: 'alias/green' }],
    });
    expect(created.body.ReplicationStatus).toEqual([
      { Region: 'us-west-2', KmsKeyId: green.arn, Status: 'InProgress' },
    ]);
  });

  it('refuses a replica key no replica region could open (a single-region KMS key), creating nothing', async () => {
    const { sm, keyRing } = await setup();
    const single = await keyRing.create('single', { everyRegion: false });
    const refused = await sm('CreateSecret', {
      Name: 's',
      SecretString: 'v',
      AddReplicaRegions: [{ Region: 'us-west-2', KmsKeyId: 'alias/single' }],
    });
    expect(refused.body.__type).toBe('InvalidParameterException');
    expect(refused.body.message).toBe(
      `The operation failed because of an invalid KMS key: ${single.arn} is not a multi-region key; a replica's KmsKeyId must name a multi-region key replicated to us-west-2.`,
    );
    expect((await sm('DescribeSecret', { SecretId: 's' })).body.__type).toBe('ResourceNotFoundException');
    // The primary itself may use it.
    expect((await sm('CreateSecret', { Name: 's', SecretString: 'v', KmsKeyId: 'alias/single' })).status).toBe(200);
  });

  it('allows a key by id or ARN through a grant on one of its aliases', async () => {
    const { sm, tokenFor, blue } = await setup();
    const token = await tokenFor('blue-user', [...WRITER, { path: 'sys/keyring/keys/blue', capabilities: ['read'] }]);
    expect((await sm('CreateSecret', { Name: 'a', SecretString: 'v', KmsKeyId: blue.keyId }, token)).status).toBe(200);
    expect((await sm('CreateSecret', { Name: 'b', SecretString: 'v', KmsKeyId: blue.arn }, token)).status).toBe(200);
    expect((await sm('CreateSecret', { Name: 'c', SecretString: 'v', KmsKeyId: 'alias/green' }, token)).body).toEqual({
      __type: 'AccessDeniedException',
      message: 'Access to KMS is not allowed',
    });
  });

  it('answers an unknown or malformed key with InvalidParameterException, a disabled one with EncryptionFailure', async () => {
    const { sm, keyRing, blue } = await setup();
    const unknown = await sm('CreateSecret', { Name: 'a', SecretString: 'v', KmsKeyId: 'alias/nope' });
    expect(unknown.body.__type).toBe('InvalidParameterException');
    expect(unknown.body.message).toMatch(/^The operation failed because of an invalid KMS key: /);
    expect((await sm('CreateSecret', { Name: 'a', SecretString: 'v', KmsKeyId: 'alias/' })).body).toEqual({
      __type: 'InvalidParameterException',
      message: 'The operation failed because of an invalid KMS key: Invalid keyId',
    });
    keyRing.disable(blue.arn);
    expect((await sm('CreateSecret', { Name: 'a', SecretString: 'v', KmsKeyId: 'alias/blue' })).body.__type).toBe(
      'EncryptionFailure',
    );
  });

  it('UpdateSecret with a new key re-encrypts the labelled versions for a caller who may use both keys', async () => {
    const { sm, keyRing, blue, green } = await setup();
    await sm('CreateSecret', { Name: 'db', SecretString: 'one', KmsKeyId: 'alias/blue' });
    await sm('PutSecretValue', { SecretId: 'db', SecretString: 'two' });
    expect((await sm('UpdateSecret', { SecretId: 'db', KmsKeyId: 'alias/green' })).status).toBe(200);
    expect((await sm('DescribeSecret', { SecretId: 'db' })).body.KmsKeyId).toBe(green.arn);
    keyRing.forget(blue.arn);
    expect((await sm('GetSecretValue', { SecretId: 'db' })).body.SecretString).toBe('two');
    expect((await sm('GetSecretValue', { SecretId: 'db', VersionStage: 'AWSPREVIOUS' })).body.SecretString).toBe('one');
  });

  it('does not re-encrypt for a caller who may not use the previous key, as AWS does not', async () => {
    const { sm, tokenFor, keyRing, blue } = await setup();
    await sm('CreateSecret', { Name: 'db', SecretString: 'one', KmsKeyId: 'alias/blue' });
    const token = await tokenFor('green-user', [...WRITER, { path: 'sys/keyring/keys/green', capabilities: ['read'] }]);
    expect((await sm('UpdateSecret', { SecretId: 'db', KmsKeyId: 'alias/green' }, token)).status).toBe(200);
    keyRing.forget(blue.arn);
    expect((await sm('GetSecretValue', { SecretId: 'db' })).body.__type).toBe('DecryptionFailure');
  });
});

describe('kmsKeyId (native API)', () => {
  it('creates under a key, describes it, and goes back to the default key', async () => {
    const { call, blue } = await setup();
    expect((await call('POST', '/v1/secrets', { name: 'db', value: 'v', kmsKeyId: 'alias/blue' })).status).toBe(201);
    expect((await call('GET', '/v1/secret/metadata/db')).body.kmsKeyId).toBe(blue.arn);
    expect((await call('PATCH', '/v1/secret/metadata/db', { kmsKeyId: null })).status).toBe(200);
    expect(await call('GET', '/v1/secret/metadata/db')).not.toHaveProperty('body.kmsKeyId');
    expect((await call('GET', '/v1/secret/data/db')).body.value).toBe('v');
  });

  it('refuses a caller without read on the key with 403, and creates keys with sudo only', async () => {
    const { call, tokenFor } = await setup();
    const token = await tokenFor('writer', WRITER);
    const refused = await call('POST', '/v1/secrets', { name: 'db', value: 'v', kmsKeyId: 'alias/blue' }, token);
    expect(refused.status).toBe(403);
    expect((await call('POST', '/v1/sys/keyring/keys', { alias: 'red' }, token)).status).toBe(403);
    const created = await call('POST', '/v1/sys/keyring/keys', { alias: 'alias/red' });
    expect(created.status).toBe(201);
    expect(created.body.aliases).toEqual(['red']);
    const listed = await call('GET', '/v1/sys/keyring/keys');
    expect((listed.body.keys as Json[]).map((k) => k.aliases)).toEqual([['blue'], ['green'], ['red']]);
    expect((await call('GET', '/v1/sys/keyring/keys/red')).body.arn).toBe(created.body.arn);
  });
});
