import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  BatchGetSecretValueCommand,
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type ListSecretsCommandInput,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * The real AWS SDK for JavaScript against a running Coffer, changing only the endpoint. Scenarios follow the AWS
 * Secrets Manager API reference (CreateSecret, PutSecretValue, UpdateSecretVersionStage, DeleteSecret, ...), not
 * Coffer's implementation.
 */
const current = useServer();
let admin: SecretsManagerClient;
let key: { accessKeyId: string; secretAccessKey: string };

function client(credentials: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1') {
  return new SecretsManagerClient({ endpoint: current().address, region, credentials, maxAttempts: 1 });
}

async function accessKey(principal: string, policy: string, rules: unknown[]) {
  const { address, rootToken } = current();
  await api(address, rootToken, 'PUT', `/v1/sys/policies/${policy}`, { rules });
  const created = await runCli(['access-key', 'create', '--principal', principal, '--policy', policy, '-o', 'json'], {
    env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken },
  });
  expect(created.code, created.stderr).toBe(0);
  return JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
}

/** The error name and HTTP status an SDK call failed with. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  key = await accessKey('sm-admin', 'sm-admin', [
    { path: 'secrets/*', capabilities: ['create', 'read', 'update', 'delete', 'list', 'rotate', 'sudo'] },
  ]);
  admin = client(key);
});

describe('AWS SDK v3 SecretsManagerClient against Coffer', () => {
  it('creates, reads and versions a secret; ARNs carry the signing region', async () => {
    const name = unique('app');
    const created = await admin.send(
      new CreateSecretCommand({ Name: name, SecretString: '{"password":"s3cr3t"}', Description: 'db' }),
    );
    expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:\\d+:secret:${name}-[A-Za-z0-9]{6}$`));
    expect(created.VersionId).toBeDefined();

    const read = await admin.send(new GetSecretValueCommand({ SecretId: name }));
    expect(read.SecretString).toBe('{"password":"s3cr3t"}');
    expect(read.VersionStages).toEqual(['AWSCURRENT']);
    expect(read.CreatedDate).toBeInstanceOf(Date);

    const put = await admin.send(
      new PutSecretValueCommand({ SecretId: created.ARN, SecretBinary: Buffer.from([0, 1, 2, 255]) }),
    );
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    const binary = await admin.send(new GetSecretValueCommand({ SecretId: created.ARN }));
    expect(Buffer.from(binary.SecretBinary!)).toEqual(Buffer.from([0, 1, 2, 255]));
    // The previous version follows as AWSPREVIOUS; readable by id and by stage, by full and partial ARN.
    const previous = await admin.send(
      new GetSecretValueCommand({ SecretId: created.ARN!.slice(0, -7), VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous.VersionId).toBe(created.VersionId);

    const described = await admin.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.Description).toBe('db');
    expect(described.VersionIdsToStages).toEqual({
      [created.VersionId!]: ['AWSPREVIOUS'],
      [put.VersionId!]: ['AWSCURRENT'],
    });
    expect(described.LastChangedDate).toBeInstanceOf(Date);
  });

  it('treats a retry with the same ClientRequestToken and value as a no-op, and a different value as ResourceExistsException', async () => {
    const name = unique('idem');
    const token = randomUUID();
    const first = await admin.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token }),
    );
    const retry = await admin.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token }),
    );
    expect(retry.VersionId).toBe(first.VersionId);
    expect(first.VersionId).toBe(token);

    const putToken = randomUUID();
    const put = await admin.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: putToken }),
    );
    const again = await admin.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: putToken }),
    );
    expect(again.VersionId).toBe(put.VersionId);
    const versions = await admin.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(versions.Versions).toHaveLength(2);

    const clash = await failure(
      admin.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'other', ClientRequestToken: putToken })),
    );
    expect(clash).toMatchObject({ name: 'ResourceExistsException', status: 400 });
    const dup = await failure(admin.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })));
    expect(dup.name).toBe('ResourceExistsException');
  });

  it('moves staging labels with and without RemoveFromVersionId, as UpdateSecretVersionStage documents', async () => {
    const name = unique('stages');
    const v1 = await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'one' }));
    // A version with a custom label only: AWSCURRENT stays where it is.
    const v2 = await admin.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'two', VersionStages: ['blue'] }),
    );
    expect(v2.VersionStages).toEqual(['blue']);
    expect((await admin.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('one');

    // AWSCURRENT sits on v1: moving it without naming RemoveFromVersionId is refused.
    const refused = await failure(
      admin.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v2.VersionId,
        }),
      ),
    );
    expect(refused.name).toBe('InvalidParameterException');
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v2.VersionId,
        RemoveFromVersionId: v1.VersionId,
      }),
    );
    const now = await admin.send(new GetSecretValueCommand({ SecretId: name }));
    expect(now.SecretString).toBe('two');
    expect(now.VersionStages?.sort()).toEqual(['AWSCURRENT', 'blue']);
    expect(
      (await admin.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }))).VersionId,
    ).toBe(v1.VersionId);

    // A label that is on no version moves without RemoveFromVersionId; removing it takes only RemoveFromVersionId.
    await admin.send(
      new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'green', MoveToVersionId: v1.VersionId }),
    );
    await admin.send(
      new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'green', RemoveFromVersionId: v1.VersionId }),
    );
    const missing = await failure(admin.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'green' })));
    expect(missing.name).toBe('ResourceNotFoundException');
  });

  it('refuses to read a secret pending deletion, still describes it, and restores it', async () => {
    const name = unique('doomed');
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'bye' }));
    const bad = await failure(admin.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 3 })));
    expect(bad.name).toBe('InvalidParameterException');
    const both = await failure(
      admin.send(
        new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }),
      ),
    );
    expect(both.name).toBe('InvalidParameterException');

    const deleted = await admin.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    expect(deleted.DeletionDate!.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    const read = await failure(admin.send(new GetSecretValueCommand({ SecretId: name })));
    expect(read).toMatchObject({ name: 'InvalidRequestException', status: 400 });
    expect((await admin.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);
    const hidden = await admin.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));
    expect(hidden.SecretList).toEqual([]);
    const shown = await admin.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }], IncludePlannedDeletion: true }),
    );
    expect(shown.SecretList?.map((s) => s.Name)).toEqual([name]);

    await admin.send(new RestoreSecretCommand({ SecretId: name }));
    expect((await admin.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('bye');

    await admin.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    expect((await failure(admin.send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'ResourceNotFoundException',
    );
  });

  it('batch-gets by id list with per-secret errors, and by filters with paging', async () => {
    const prefix = unique('batch');
    for (const n of ['a', 'b', 'c'])
      await admin.send(new CreateSecretCommand({ Name: `${prefix}/${n}`, SecretString: `value-${n}` }));
    const byId = await admin.send(
      new BatchGetSecretValueCommand({ SecretIdList: [`${prefix}/a`, `${prefix}/missing`, `${prefix}/c`] }),
    );
    expect(byId.SecretValues?.map((v) => v.SecretString).sort()).toEqual(['value-a', 'value-c']);
    expect(byId.Errors).toEqual([
      expect.objectContaining({ SecretId: `${prefix}/missing`, ErrorCode: 'ResourceNotFoundException' }),
    ]);

    const first = await admin.send(
      new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 2 }),
    );
    expect(first.SecretValues).toHaveLength(2);
    expect(first.NextToken).toBeDefined();
    const second = await admin.send(
      new BatchGetSecretValueCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        MaxResults: 2,
        NextToken: first.NextToken,
      }),
    );
    expect([...first.SecretValues!, ...second.SecretValues!].map((v) => v.SecretString)).toEqual([
      'value-a',
      'value-b',
      'value-c',
    ]);
    expect(second.NextToken).toBeUndefined();

    const both = await failure(
      admin.send(new BatchGetSecretValueCommand({ SecretIdList: ['x'], Filters: [{ Key: 'name', Values: ['x'] }] })),
    );
    expect(both.name).toBe('InvalidParameterException');
  });

  it('lists with filters (prefix, negation, tags, case rules), sort order and NextToken', async () => {
    const prefix = unique('list');
    await admin.send(
      new CreateSecretCommand({
        Name: `${prefix}/one`,
        SecretString: 'x',
        Description: 'Payments DB',
        Tags: [{ Key: 'team', Value: 'blue' }],
      }),
    );
    await admin.send(
      new CreateSecretCommand({ Name: `${prefix}/two`, SecretString: 'x', Tags: [{ Key: 'team', Value: 'red' }] }),
    );
    await admin.send(new CreateSecretCommand({ Name: `${prefix}/three`, SecretString: 'x' }));
    const names = async (input: ListSecretsCommandInput) =>
      (await admin.send(new ListSecretsCommand(input))).SecretList?.map((s) => s.Name);

    expect(await names({ Filters: [{ Key: 'name', Values: [prefix] }] })).toEqual([
      `${prefix}/one`,
      `${prefix}/two`,
      `${prefix}/three`,
    ]);
    expect(await names({ Filters: [{ Key: 'name', Values: [prefix] }], SortOrder: 'desc' })).toEqual([
      `${prefix}/three`,
      `${prefix}/two`,
      `${prefix}/one`,
    ]);
    expect(
      await names({
        Filters: [
          { Key: 'name', Values: [prefix] },
          { Key: 'tag-value', Values: ['blue', 'red'] },
        ],
      }),
    ).toEqual([`${prefix}/one`, `${prefix}/two`]);
    expect(
      await names({
        Filters: [
          { Key: 'name', Values: [prefix] },
          { Key: 'tag-key', Values: ['!team'] },
        ],
      }),
    ).toEqual([`${prefix}/three`]);
    // description ignores case; name does not.
    expect(await names({ Filters: [{ Key: 'description', Values: ['payments'] }] })).toContain(`${prefix}/one`);
    expect(await names({ Filters: [{ Key: 'name', Values: [prefix.toUpperCase()] }] })).toEqual([]);

    const page1 = await admin.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 2 }),
    );
    const page2 = await admin.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        MaxResults: 2,
        NextToken: page1.NextToken,
      }),
    );
    expect([...page1.SecretList!, ...page2.SecretList!].map((s) => s.Name)).toEqual([
      `${prefix}/one`,
      `${prefix}/two`,
      `${prefix}/three`,
    ]);
    const foreign = await failure(admin.send(new ListSecretsCommand({ MaxResults: 2, NextToken: page1.NextToken })));
    expect(foreign.name).toBe('InvalidNextTokenException');
    expect((await failure(admin.send(new ListSecretsCommand({ NextToken: 'garbage' })))).name).toBe(
      'InvalidNextTokenException',
    );
  });

  it('updates descriptions and values, tags and untags', async () => {
    const name = unique('upd');
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }));
    const desc = await admin.send(new UpdateSecretCommand({ SecretId: name, Description: 'changed' }));
    expect(desc.VersionId).toBeUndefined();
    const value = await admin.send(new UpdateSecretCommand({ SecretId: name, SecretString: 'b' }));
    expect(value.VersionId).toBeDefined();
    expect((await admin.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('b');
    await admin.send(
      new TagResourceCommand({
        SecretId: name,
        Tags: [
          { Key: 'env', Value: 'prod' },
          { Key: 'x', Value: '1' },
        ],
      }),
    );
    await admin.send(new UntagResourceCommand({ SecretId: name, TagKeys: ['x'] }));
    const described = await admin.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.Tags).toEqual([{ Key: 'env', Value: 'prod' }]);
    expect(described.Description).toBe('changed');
    const reserved = await failure(
      admin.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'aws:x', Value: '1' }] })),
    );
    expect(reserved.name).toBe('InvalidParameterException');
    // A key the caller may not use (no read on sys/keyring/keys/other), in AWS's words, whether or not it exists.
    const kms = await failure(admin.send(new UpdateSecretCommand({ SecretId: name, KmsKeyId: 'alias/other' })));
    expect(kms.name).toBe('AccessDeniedException');
    expect(kms.message).toBe('Access to KMS is not allowed');
  });

  it('generates random passwords by the documented rules', async () => {
    const plain = await admin.send(new GetRandomPasswordCommand({}));
    expect(plain.RandomPassword).toHaveLength(32);
    const digits = await admin.send(
      new GetRandomPasswordCommand({
        PasswordLength: 64,
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludePunctuation: true,
      }),
    );
    expect(digits.RandomPassword).toMatch(/^[0-9]{64}$/);
    const impossible = await failure(
      admin.send(
        new GetRandomPasswordCommand({
          ExcludeLowercase: true,
          ExcludeUppercase: true,
          ExcludePunctuation: true,
          ExcludeNumbers: true,
        }),
      ),
    );
    expect(impossible.name).toBe('InvalidParameterException');
  });

  it('keeps resource policies, and their Deny statements take access away on both APIs', async () => {
    const name = unique('guarded');
    const created = await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'guarded-value' }));
    const readerKey = await accessKey('reader', 'reader', [{ path: 'secrets/*', capabilities: ['read'] }]);
    const reader = client(readerKey);
    expect((await reader.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('guarded-value');

    const malformed = await failure(
      admin.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: '{"Statement":' })),
    );
    expect(malformed.name).toBe('MalformedPolicyDocumentException');
    const publicPolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
    });
    expect(
      (await failure(admin.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: publicPolicy })))).name,
    ).toBe('PublicPolicyException');

    const deny = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Principal: { AWS: 'arn:aws:iam::*:user/reader' },
          Action: 'secretsmanager:Get*',
          Resource: '*',
        },
      ],
    });
    await admin.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: deny }));
    expect((await admin.send(new GetResourcePolicyCommand({ SecretId: created.ARN }))).ResourcePolicy).toBe(deny);
    expect((await failure(reader.send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'AccessDeniedException',
    );
    // The native API obeys the same Deny.
    const { address } = current();
    const { signedFetch } = await import('../support/sigv4.ts');
    expect((await signedFetch(address, readerKey, 'GET', `/v1/secret/data/${name}`)).status).toBe(403);
    // Others are unaffected.
    expect((await admin.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('guarded-value');

    await admin.send(new DeleteResourcePolicyCommand({ SecretId: name }));
    expect((await reader.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('guarded-value');
  });

  it('authorises by the real name behind an ARN, and hides existence from callers without access', async () => {
    const name = unique('private');
    const created = await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'p' }));
    const otherKey = await accessKey('other', 'other', [{ path: 'secrets/public/*', capabilities: ['read', 'list'] }]);
    const other = client(otherKey);
    expect((await failure(other.send(new GetSecretValueCommand({ SecretId: created.ARN })))).name).toBe(
      'AccessDeniedException',
    );
    expect((await failure(other.send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'AccessDeniedException',
    );
    const absentArn = created.ARN!.replace(/-[A-Za-z0-9]{6}$/, '-zzzzzz');
    expect((await failure(other.send(new GetSecretValueCommand({ SecretId: absentArn })))).name).toBe(
      'AccessDeniedException',
    );
    expect((await failure(admin.send(new GetSecretValueCommand({ SecretId: absentArn })))).name).toBe(
      'ResourceNotFoundException',
    );
    const listed = await other.send(new ListSecretsCommand({}));
    expect(listed.SecretList?.map((s) => s.Name)).not.toContain(name);
    const batch = await other.send(new BatchGetSecretValueCommand({ SecretIdList: [name] }));
    expect(batch.Errors?.[0]?.ErrorCode).toBe('AccessDeniedException');
  });

  it('answers authentication failures with AWS error names', async () => {
    const forged = client({ ...key, secretAccessKey: `${key.secretAccessKey}x` });
    expect(await failure(forged.send(new ListSecretsCommand({})))).toMatchObject({
      name: 'InvalidSignatureException',
      status: 403,
    });
    const unknown = client({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' });
    expect(await failure(unknown.send(new ListSecretsCommand({})))).toMatchObject({
      name: 'InvalidClientTokenId',
      status: 403,
    });
  });

  it('reports rotation as unavailable rather than pretending, and refuses a second rotation while one is pending', async () => {
    const name = unique('rot');
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'r1' }));
    const none = await failure(admin.send(new RotateSecretCommand({ SecretId: name })));
    expect(none.name).toBe('InvalidRequestException');
    expect(none.message).toMatch(/rotation/);
    await admin.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'r2', VersionStages: ['AWSPENDING'] }));
    const inProgress = await failure(admin.send(new RotateSecretCommand({ SecretId: name })));
    expect(inProgress.message).toMatch(/previous rotation isn't complete/);
  });

  it("answers in AWS's words where issue 13 found Coffer's own (the deviations it lists)", async () => {
    const name = unique('words');
    expect(await failure(admin.send(new GetSecretValueCommand({ SecretId: name })))).toEqual({
      name: 'ResourceNotFoundException',
      status: 400,
      message: "Secrets Manager can't find the specified secret.",
    });
    expect(await failure(admin.send(new CreateSecretCommand({ Name: 'with space', SecretString: 'x' })))).toEqual({
      name: 'ValidationException',
      status: 400,
      message:
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    });
    const unknownKey = await failure(
      admin.send(new ListSecretsCommand({ Filters: [{ Key: 'x' as never, Values: ['a'] }] })),
    );
    expect(unknownKey.message).toBe(
      "1 validation error detected: Value 'x' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [all, name, tag-key, description, tag-value]",
    );
    const password = await admin.send(new GetRandomPasswordCommand({ PasswordLength: 4, IncludeSpace: true }));
    expect(password.RandomPassword).toHaveLength(4);
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: 'w' }));
    const cancel = await failure(admin.send(new CancelRotateSecretCommand({ SecretId: name })));
    expect(cancel).toMatchObject({ name: 'InvalidRequestException', status: 400 });
    const gone = await admin.send(
      new DeleteSecretCommand({ SecretId: `${name}-gone`, ForceDeleteWithoutRecovery: true }),
    );
    expect(gone).toMatchObject({ Name: `${name}-gone`, ARN: expect.stringContaining(`:secret:${name}-gone-`) });
    expect(gone.DeletionDate).toBeInstanceOf(Date);
    const described = await admin.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.Tags).toBeUndefined();
    expect(described.RotationEnabled).toBeUndefined();
  });

  it('never writes a value into the audit log: SecretString is HMAC’d there', async () => {
    const name = unique('canary');
    const canary = `canary-${randomUUID()}`;
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: canary }));
    await admin.send(new GetSecretValueCommand({ SecretId: name }));
    await admin.send(new BatchGetSecretValueCommand({ SecretIdList: [name] }));
    const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
    expect(log).toContain('secretsmanager.BatchGetSecretValue');
    expect(log).not.toContain(canary);
  });
});
