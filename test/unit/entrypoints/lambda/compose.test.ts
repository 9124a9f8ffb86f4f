import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { EnableAuditDeviceSchema } from '../../../../lambdas/core/audit/devices/audit-device-config.ts';
import { IamPrincipalService } from '../../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { AlreadyExistsError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import type { Principal } from '../../../../lambdas/core/principal.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import { AwsEngine } from '../../../../lambdas/engines/aws/aws-engine.ts';
import { DatabaseEngine } from '../../../../lambdas/engines/database/database-engine.ts';
import {
  composeAwsDeps,
  composeDynamicSecrets,
  createLambdaHandler,
  resolveAuditSalt,
  withBootstrapAdmins,
} from '../../../../lambdas/entrypoints/lambda/compose.ts';
import { DEFAULT_PUBLIC_URL, loadAwsConfig } from '../../../../lambdas/entrypoints/lambda/config.ts';
import { CA_KEY_TAG } from '../../../../lambdas/entrypoints/lambda/deployment-names.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';

const ACCOUNT = '123456789012';
const SECRET_ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:coffer/audit-salt-AbC123`;
const env = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  COFFER_AUDIT_BUCKET: 'coffer-audit',
  AWS_REGION: 'eu-west-1',
  COFFER_AUDIT_SALT_SECRET_ARN: SECRET_ARN,
};

describe('Function: resolveAuditSalt', () => {
  const secrets = mockClient(SecretsManagerClient);
  afterEach(() => secrets.reset());
  const client = () => new SecretsManagerClient({ region: 'eu-west-1' });

  it('reads the salt from the named secret once', async () => {
    const salt = randomBytes(48);
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: salt.toString('base64') });
    const resolved = await resolveAuditSalt(loadAwsConfig(env), client());
    expect(resolved.auditSalt.equals(salt)).toBe(true);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('accepts the 64 alphanumeric characters CloudFormation generates (valid base64, 48 bytes)', async () => {
    const generated = 'Ab3'.repeat(21).concat('Z');
    secrets.on(GetSecretValueCommand).resolves({ SecretString: generated });
    const resolved = await resolveAuditSalt(loadAwsConfig(env), client());
    expect(resolved.auditSalt).toHaveLength(48);
  });

  it('makes no call when the salt is inline', async () => {
    const { COFFER_AUDIT_SALT_SECRET_ARN: _arn, ...inline } = env;
    const config = loadAwsConfig({ ...inline, COFFER_AUDIT_SALT: randomBytes(32).toString('base64') });
    await resolveAuditSalt(config, client());
    expect(secrets.calls()).toHaveLength(0);
  });

  it('fails naming the setting, without the value, when the secret is too short', async () => {
    const short = randomBytes(16).toString('base64');
    secrets.on(GetSecretValueCommand).resolves({ SecretString: short });
    const failure = resolveAuditSalt(loadAwsConfig(env), client());
    await expect(failure).rejects.toThrow(
      /^invalid configuration COFFER_AUDIT_SALT_SECRET_ARN: the secret's string must decode to at least 32 bytes$/,
    );
    await expect(failure).rejects.not.toThrow(short);
  });

  it('fails naming the setting when the secret cannot be read', async () => {
    secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(resolveAuditSalt(loadAwsConfig(env), client())).rejects.toThrow(
      'invalid configuration COFFER_AUDIT_SALT_SECRET_ARN: the secret could not be read (AccessDeniedException)',
    );
  });

  it('refuses the synchronous composition of a configuration whose salt is still in a secret', () => {
    expect(() => createLambdaHandler(env)).toThrow(/^invalid configuration COFFER_AUDIT_SALT_SECRET_ARN/);
  });
});

describe('Function: withBootstrapAdmins', () => {
  const ADMIN_ROLE = `arn:aws:iam::${ACCOUNT}:role/coffer-admin`;
  const mapped: Principal = {
    type: 'iam',
    id: 'x',
    displayName: 'x',
    policies: ['app'],
    metadata: {},
  };

  it('gives a bootstrap admin role root, for its STS sessions too, keeping mapped policies', async () => {
    const resolve = withBootstrapAdmins(async () => mapped, [ADMIN_ROLE]);
    const session = `arn:aws:sts::${ACCOUNT}:assumed-role/coffer-admin/alice`;
    const principal = await resolve(session);
    expect(principal).toMatchObject({
      type: 'iam',
      id: session,
      displayName: 'coffer-admin',
      policies: ['app', 'root'],
    });
    expect(principal?.metadata.bootstrapAdmin).toBe('true');
  });

  it('gives root to an admin nobody mapped', async () => {
    const resolve = withBootstrapAdmins(async () => undefined, [ADMIN_ROLE]);
    expect((await resolve(ADMIN_ROLE))?.policies).toEqual(['root']);
  });

  it('leaves every other caller to the mappings', async () => {
    const resolve = withBootstrapAdmins(async () => undefined, [ADMIN_ROLE]);
    expect(await resolve(`arn:aws:sts::${ACCOUNT}:assumed-role/coffer-admin-2/s`)).toBeUndefined();
    expect(await resolve(`arn:aws:iam::${ACCOUNT}:role/other`)).toBeUndefined();
    expect(await resolve('not-an-arn')).toBeUndefined();
  });
});

describe('Function: composeAwsDeps (dynamic secrets and PKI)', () => {
  const kms = mockClient(KMSClient);
  const dynamodb = mockClient(DynamoDBClient);
  afterEach(() => {
    kms.reset();
    dynamodb.reset();
  });
  const salted = (extra: Record<string, string> = {}) => {
    const { COFFER_AUDIT_SALT_SECRET_ARN: _arn, ...inline } = env;
    return loadAwsConfig({ ...inline, COFFER_AUDIT_SALT: randomBytes(32).toString('base64'), ...extra });
  };
  const clients = () => ({
    dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
    kms: new KMSClient({ region: 'eu-west-1' }),
    sts: new STSClient({ region: 'eu-west-1' }),
  });
  const compose = (extra?: Record<string, string>) => {
    const config = salted(extra);
    return composeAwsDeps({ ...config, auditSalt: config.auditSalt! }, clients());
  };

  it('wires leases, the database and AWS engines and PKI, with the CRL under COFFER_PUBLIC_URL', () => {
    const deps = compose({ COFFER_PUBLIC_URL: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/' });
    expect(deps.leases).toBeInstanceOf(LeaseService);
    expect(deps.database).toBeInstanceOf(DatabaseEngine);
    expect(deps.aws).toBeInstanceOf(AwsEngine);
    // The IAM mappings the resolver reads are the ones the API manages.
    expect(deps.iamPrincipals).toBeInstanceOf(IamPrincipalService);
    expect(deps.pki?.crlUrl).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/pki/crl');
  });

  it('refuses LDAP mounts with a 400-class error naming the fix unless the stack put the broker in a VPC', async () => {
    dynamodb.onAnyCommand().resolves({});
    const enable = (extra?: Record<string, string>) =>
      compose(extra).authMounts!.enable('ldap', { type: 'ldap', config: { url: 'ldaps://ldap.example.org' } });
    await expect(enable()).rejects.toThrow(/LDAP needs the broker in a VPC: deploy the stack with the ldap option/);
    await expect(enable()).rejects.toBeInstanceOf(ValidationError);
    // In a VPC the configuration is accepted (the store write is what this mock answers).
    await expect(enable({ COFFER_BROKER_IN_VPC: 'true' })).resolves.toMatchObject({ type: 'ldap', path: 'ldap' });
  });

  it('has the outbox to S3 as its built-in audit device, offers syslog and socket devices, and no file device', async () => {
    dynamodb.onAnyCommand().resolves({});
    const devices = compose().auditDevices!;
    expect(devices.types).toEqual(['s3', 'syslog', 'socket']);
    expect(await devices.list()).toEqual([expect.objectContaining({ path: 's3', type: 's3', builtin: true })]);
    await expect(devices.enable('local', EnableAuditDeviceSchema.parse({ type: 'file' }))).rejects.toThrow(
      'this runtime offers s3, syslog, socket audit devices; file is not one of them',
    );
    await expect(devices.enable('bucket', EnableAuditDeviceSchema.parse({ type: 's3' }))).rejects.toThrow(
      's3 is its built-in device, at path s3',
    );
    await expect(devices.enable('s3', EnableAuditDeviceSchema.parse({ type: 's3' }))).rejects.toThrow(
      AlreadyExistsError,
    );
  });

  it('falls back to the default URL for the CRL when COFFER_PUBLIC_URL is unset', () => {
    expect(compose().pki?.crlUrl).toBe(`${DEFAULT_PUBLIC_URL}/v1/pki/crl`);
  });

  it('creates CA keys in KMS as SIGN_VERIFY keys tagged with the deployment name', async () => {
    dynamodb.onAnyCommand().resolves({});
    kms.on(CreateKeyCommand).rejects(Object.assign(new Error('stop here'), { name: 'LimitExceededException' }));
    const deps = compose({ COFFER_DEPLOYMENT_NAME: 'coffer-prod' });
    await expect(deps.pki!.generateRoot({ common_name: 'Root', key_type: 'ec-p256', ttl: 3600 })).rejects.toThrow();
    const input = kms.commandCalls(CreateKeyCommand)[0]!.args[0].input;
    expect(input.KeyUsage).toBe('SIGN_VERIFY');
    expect(input.Tags).toContainEqual({ TagKey: CA_KEY_TAG, TagValue: 'coffer-prod' });
  });
});

describe('Function: composeDynamicSecrets', () => {
  const sts = mockClient(STSClient);
  afterEach(() => sts.reset());

  it('issues aws/<role> credentials through the injected STS client, under a lease', async () => {
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAEXAMPLE',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(Date.now() + 900_000),
      },
    });
    const store = new MemoryStore();
    const clock = { now: () => Date.now() };
    const keyProvider = new FakeKeyProvider();
    const secrets = new SecretService({ store, keyProvider, clock, region: 'eu-west-1', account: ACCOUNT });
    const { aws, leases } = composeDynamicSecrets({
      store,
      secrets,
      keyProvider,
      clients: { sts: new STSClient({ region: 'eu-west-1' }) },
      config: { region: 'eu-west-1', endpoint: undefined, egressAllow: '' },
      clock,
    });
    await aws.putRole('reports', { role_arn: `arn:aws:iam::${ACCOUNT}:role/reports`, default_ttl: '15m' });
    const { lease } = await leases.issue({ kind: 'aws', role: 'reports', principalId: 'alice' });
    expect(lease.leaseId).toMatch(/^aws\/creds\/reports\//);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input.RoleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/reports`);
    expect((await leases.list({ prefix: 'aws/' })).leases).toHaveLength(1);
  });
});
