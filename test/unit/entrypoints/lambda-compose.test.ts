import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../../lambdas/core/principal.ts';
import {
  createLambdaHandler,
  resolveAuditSalt,
  withBootstrapAdmins,
} from '../../../lambdas/entrypoints/lambda/compose.ts';
import { loadAwsConfig } from '../../../lambdas/entrypoints/lambda/config.ts';

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
