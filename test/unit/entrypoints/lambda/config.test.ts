import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PUBLIC_URL, loadAwsConfig } from '../../../../lambdas/entrypoints/lambda/config.ts';

const ACCOUNT = '123456789012';
const SECRET_ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:coffer/audit-salt-AbC123`;
const base = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  COFFER_AUDIT_BUCKET: 'coffer-audit',
  AWS_REGION: 'eu-west-1',
};

describe('Function: loadAwsConfig (audit salt secret, bootstrap admins)', () => {
  it('accepts a salt secret ARN instead of an inline salt, leaving the salt to be read', () => {
    const config = loadAwsConfig({ ...base, COFFER_AUDIT_SALT_SECRET_ARN: SECRET_ARN });
    expect(config.auditSalt).toBeUndefined();
    expect(config.auditSaltSecretArn).toBe(SECRET_ARN);
  });

  it('still accepts the inline salt, for tests and emulators', () => {
    const salt = randomBytes(32);
    const config = loadAwsConfig({ ...base, COFFER_AUDIT_SALT: salt.toString('base64') });
    expect(config.auditSalt?.equals(salt)).toBe(true);
    expect(config.auditSaltSecretArn).toBeUndefined();
  });

  it('requires one of the two, naming COFFER_AUDIT_SALT', () => {
    expect(() => loadAwsConfig(base)).toThrow(/^invalid configuration COFFER_AUDIT_SALT: is required$/);
  });

  it('refuses both at once, naming the secret setting', () => {
    expect(() =>
      loadAwsConfig({
        ...base,
        COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
        COFFER_AUDIT_SALT_SECRET_ARN: SECRET_ARN,
      }),
    ).toThrow(/^invalid configuration COFFER_AUDIT_SALT_SECRET_ARN: cannot be combined with COFFER_AUDIT_SALT$/);
  });

  it('refuses a secret name that is not an ARN', () => {
    expect(() => loadAwsConfig({ ...base, COFFER_AUDIT_SALT_SECRET_ARN: 'coffer/audit-salt' })).toThrow(
      /^invalid configuration COFFER_AUDIT_SALT_SECRET_ARN: must be a Secrets Manager secret ARN$/,
    );
  });

  it('parses bootstrap admin ARNs from a comma-separated list, trimming blanks', () => {
    const config = loadAwsConfig({
      ...base,
      COFFER_AUDIT_SALT_SECRET_ARN: SECRET_ARN,
      COFFER_BOOTSTRAP_ADMIN_ARNS: ` arn:aws:iam::${ACCOUNT}:role/admin , arn:aws:iam::${ACCOUNT}:user/alice,`,
    });
    expect(config.bootstrapAdminArns).toEqual([
      `arn:aws:iam::${ACCOUNT}:role/admin`,
      `arn:aws:iam::${ACCOUNT}:user/alice`,
    ]);
    expect(loadAwsConfig({ ...base, COFFER_AUDIT_SALT_SECRET_ARN: SECRET_ARN }).bootstrapAdminArns).toEqual([]);
  });

  it.each([[`arn:aws:iam::${ACCOUNT}:role/*`], ['admin'], [`arn:aws:s3:::bucket`]])(
    'refuses the bootstrap admin %s, naming the setting',
    (arn) => {
      expect(() =>
        loadAwsConfig({ ...base, COFFER_AUDIT_SALT_SECRET_ARN: SECRET_ARN, COFFER_BOOTSTRAP_ADMIN_ARNS: arn }),
      ).toThrow(/^invalid configuration COFFER_BOOTSTRAP_ADMIN_ARNS(\.\d+)?: must be comma-separated IAM or STS ARNs/);
    },
  );
});

describe('Function: loadAwsConfig (public URL, deployment name)', () => {
  const salted = { ...base, COFFER_AUDIT_SALT: randomBytes(32).toString('base64') };

  it('reads the API URL and the deployment name', () => {
    const config = loadAwsConfig({
      ...salted,
      COFFER_PUBLIC_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/',
      COFFER_DEPLOYMENT_NAME: 'coffer-prod',
    });
    expect(config.publicUrl).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/prod/');
    expect(config.deploymentName).toBe('coffer-prod');
  });

  it('falls back to the default URL and the name coffer', () => {
    const config = loadAwsConfig(salted);
    expect(config.publicUrl).toBe(DEFAULT_PUBLIC_URL);
    expect(config.deploymentName).toBe('coffer');
  });

  it("reads the web console's origin for CORS, and refuses anything but an https origin (never *)", () => {
    expect(loadAwsConfig(salted).consoleOrigin).toBeUndefined();
    const origin = 'https://d1234abcd.cloudfront.net';
    expect(loadAwsConfig({ ...salted, COFFER_CONSOLE_ORIGIN: origin }).consoleOrigin).toBe(origin);
    for (const bad of ['*', 'http://d1234abcd.cloudfront.net', 'https://d1234abcd.cloudfront.net/', 'null']) {
      expect(() => loadAwsConfig({ ...salted, COFFER_CONSOLE_ORIGIN: bad }), bad).toThrow(
        /^invalid configuration COFFER_CONSOLE_ORIGIN: must be an https origin/,
      );
    }
  });

  it('refuses a URL that is not http(s) and a name with other characters, naming the setting', () => {
    expect(() => loadAwsConfig({ ...salted, COFFER_PUBLIC_URL: 'ftp://example.com' })).toThrow(
      /^invalid configuration COFFER_PUBLIC_URL: must be an http\(s\) URL$/,
    );
    expect(() => loadAwsConfig({ ...salted, COFFER_DEPLOYMENT_NAME: 'a b' })).toThrow(
      /^invalid configuration COFFER_DEPLOYMENT_NAME:/,
    );
  });
});
