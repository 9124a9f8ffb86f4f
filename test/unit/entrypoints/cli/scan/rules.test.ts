import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scanText } from '../../../../../lambdas/entrypoints/cli/scan/scanner.ts';
import {
  cofferAccessKeyId,
  cofferSecretAccessKey,
  cofferToken,
  signedJwt,
} from '../../../../support/scan-fixture-repo.ts';

async function rulesAt(content: string): Promise<Array<[string, number]>> {
  const findings = await scanText({ path: 'file.txt', content });
  return findings.map((finding) => [finding.ruleId, finding.line]);
}

describe('Rule: coffer/coffer-credentials', () => {
  it('finds a token, a wrapping token and an access key id in their issued formats', async () => {
    const content = [
      `token=${cofferToken()}`,
      `wrapped: cwr.${randomBytes(32).toString('base64url')}`,
      `id ${cofferAccessKeyId()}`,
    ].join('\n');
    expect(await rulesAt(content)).toEqual([
      ['coffer/coffer-credentials', 1],
      ['coffer/coffer-credentials', 2],
      ['coffer/coffer-credentials', 3],
    ]);
  });

  it('does not take a truncated token, an accessor or a longer string for a token', async () => {
    const token = cofferToken();
    expect(
      await rulesAt(`docs: ${token.slice(0, 20)}…\naccessor acc_${randomBytes(18).toString('base64url')}`),
    ).toEqual([]);
    expect(await rulesAt(`x ${token}A`)).toEqual([]);
  });

  it('finds a secret access key beside a Coffer access key id, and leaves one beside an AWS id to the AWS rule', async () => {
    const coffer = `COFFER_ACCESS_KEY_ID=${cofferAccessKeyId()}\nCOFFER_KEY=${cofferSecretAccessKey()}\n`;
    expect(await rulesAt(coffer)).toEqual([
      ['coffer/coffer-credentials', 1],
      ['coffer/coffer-credentials', 2],
    ]);
    const lone = `something=${cofferSecretAccessKey()}\n`;
    expect(await rulesAt(lone)).toEqual([]);
    // The preset's AWS rule ends its match with `\b`, so it passes over a key ending in `+` or `/` (the entropy rule
    // then reports it): draw one that ends in a letter or digit.
    let awsSecret = cofferSecretAccessKey();
    while (!/[A-Za-z0-9]$/.test(awsSecret)) awsSecret = cofferSecretAccessKey();
    const aws = `aws_access_key_id=AKIA${'QWERTYUIOPASDFGH'}\naws_secret_access_key=${awsSecret}\n`;
    expect((await rulesAt(aws)).map(([rule]) => rule)).toEqual([
      '@secretlint/secretlint-rule-aws',
      '@secretlint/secretlint-rule-aws',
    ]);
  });
});

describe('Rule: coffer/jwt', () => {
  it('finds a signed token', async () => {
    expect(await rulesAt(`Authorization: Bearer ${signedJwt()}`)).toEqual([['coffer/jwt', 1]]);
  });

  it('passes over an unsigned token and eyJ strings that are no token', async () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${part({ alg: 'none' })}.${part({ sub: 'x' })}.${'A'.repeat(20)}`;
    const noAlg = `${part({ typ: 'JWT' })}.${part({ sub: 'x' })}.${randomBytes(32).toString('base64url')}`;
    const notJson = `eyJhbGciOiJIUzI1NiJ9XXX.eyJub3Rqc29u.${randomBytes(32).toString('base64url')}`;
    expect(await rulesAt(`${unsigned}\n${noAlg}\n${notJson}`)).toEqual([]);
  });

  it('reports the signature that makes it a credential, not a hash of one', async () => {
    const signingInput = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{"a":1}').toString('base64url')}`;
    const jwt = `${signingInput}.${createHmac('sha256', 'k').update(signingInput).digest('base64url')}`;
    const [finding] = await scanText({ path: 'a', content: jwt });
    expect(finding?.redacted).toBe(`eyJh…(${jwt.length} chars)`);
  });
});

describe('Rule: coffer/database-url', () => {
  it('finds Redis, AMQP and SQL Server URLs with a password', async () => {
    const content = [
      'REDIS_URL=redis://:s3cretRedisPw@cache:6379/0',
      'AMQP=amqps://orders:Rabb1tPassw0rd@mq:5671/',
      'MSSQL=sqlserver://sa:Str0ngPassw0rd!@sql:1433',
    ].join('\n');
    expect(await rulesAt(content)).toEqual([
      ['coffer/database-url', 1],
      ['coffer/database-url', 2],
      ['coffer/database-url', 3],
    ]);
  });

  it('passes over placeholders and URLs without a password', async () => {
    const content = [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style placeholder is the case under test
      'redis://:${REDIS_PASSWORD}@cache:6379',
      'redis://:<password>@cache:6379',
      'amqp://guest:guest@localhost:5672',
      'redis://cache:6379/0',
      'amqp://user:changeme@mq',
    ].join('\n');
    expect(await rulesAt(content)).toEqual([]);
  });
});

describe('Rule: coffer/private-key', () => {
  it('finds the small keys the preset passes over', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' });
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect(await rulesAt(`${ec}\n${ed}`)).toEqual([
      ['coffer/private-key', 1],
      ['coffer/private-key', 7],
    ]);
  });

  it('passes over placeholders and public keys', async () => {
    const pub = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' });
    const placeholder = '-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n';
    const shortBody = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n';
    expect(await rulesAt(`${pub}${placeholder}${shortBody}`)).toEqual([]);
  });
});

describe('Rule: coffer/high-entropy-assignment', () => {
  it('finds a random value assigned to a secret-looking name in YAML, JSON, env and code', async () => {
    const value = () => randomBytes(24).toString('base64url');
    const content = [
      'oauth:',
      `  client_secret: ${value()}`,
      `{"api_key": "${value()}"}`,
      `export STRIPE_API_KEY=${value()}`,
      `const signingKey = '${value()}';`,
      `password := "${value()}"`,
    ].join('\n');
    expect(await rulesAt(content)).toEqual([
      ['coffer/high-entropy-assignment', 2],
      ['coffer/high-entropy-assignment', 3],
      ['coffer/high-entropy-assignment', 4],
      ['coffer/high-entropy-assignment', 5],
      ['coffer/high-entropy-assignment', 6],
    ]);
  });

  it('passes over type annotations, ARNs and names inside other words', async () => {
    const content = [
      'export const privateKeyRule: SecretLintRuleCreator = {',
      'const token: AccessTokenResponseBody | undefined = undefined;',
      "  KmsUserPasswordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kmsuser-AbCdEf',",
      '"@aws-cdk/aws-secretsmanager:useAttachedSecretResourcePolicyForSecretTargetAttachments": true,',
    ].join('\n');
    expect(await rulesAt(content)).toEqual([]);
  });

  it('reads no assignment across a line break', async () => {
    expect(await rulesAt(`password:\n  ${randomBytes(24).toString('base64url')}`)).toEqual([]);
  });

  it('leaves text another rule reported to that rule', async () => {
    expect(await rulesAt(`COFFER_TOKEN=${cofferToken()}`)).toEqual([['coffer/coffer-credentials', 1]]);
  });
});
