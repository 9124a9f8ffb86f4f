import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shannonEntropy } from '../../../../../lambdas/entrypoints/cli/scan/entropy.ts';
import {
  ENTROPY_MIN_BITS,
  ENTROPY_MIN_LENGTH,
  looksLikeSecretName,
  looksLikeSecretValue,
} from '../../../../../lambdas/entrypoints/cli/scan/rules/entropy.ts';

describe('Function: shannonEntropy', () => {
  it('measures bits per character from the string’s own frequencies', () => {
    expect(shannonEntropy('')).toBe(0);
    expect(shannonEntropy('aaaaaaaa')).toBe(0);
    expect(shannonEntropy('abababab')).toBe(1);
    expect(shannonEntropy('abcd')).toBe(2);
    expect(shannonEntropy('0123456789abcdef')).toBe(4);
  });

  it('scores random keys above the threshold and words below it', () => {
    expect(shannonEntropy(randomBytes(24).toString('base64'))).toBeGreaterThan(ENTROPY_MIN_BITS);
    expect(shannonEntropy('correcthorsebatterystaple')).toBeLessThan(ENTROPY_MIN_BITS);
  });
});

describe('Function: looksLikeSecretName', () => {
  it.each(['password', 'DB_PASSWORD', 'client_secret', 'apiKey', 'GITHUB_TOKEN', 'spring.datasource.password'])(
    'takes %s for a secret',
    (name) => expect(looksLikeSecretName(name)).toBe(true),
  );
  it.each(['password_hash', 'token_sha256', 'secret_id', 'client_id', 'api_key_url', 'checksum', 'username'])(
    'does not take %s for a secret',
    (name) => expect(looksLikeSecretName(name)).toBe(false),
  );
});

describe('Function: looksLikeSecretValue', () => {
  it('takes random base64 and alphanumeric keys for secrets', () => {
    expect(looksLikeSecretValue(randomBytes(24).toString('base64'))).toBe(true);
    expect(looksLikeSecretValue(randomBytes(24).toString('base64url'))).toBe(true);
  });

  it(`needs ${ENTROPY_MIN_LENGTH} characters`, () => {
    const key = randomBytes(30).toString('base64url');
    expect(looksLikeSecretValue(key.slice(0, ENTROPY_MIN_LENGTH))).toBe(true);
    expect(looksLikeSecretValue(key.slice(0, ENTROPY_MIN_LENGTH - 1))).toBe(false);
  });

  it.each([
    ['a UUID', randomUUID()],
    ['a sha256 hex digest', randomBytes(32).toString('hex')],
    ['a git commit', randomBytes(20).toString('hex')],
    ['lockfile integrity', `sha512-${randomBytes(64).toString('base64')}`],
    ['a docker digest', `sha256:${randomBytes(32).toString('hex')}`],
    ['base64 of text', Buffer.from('this is only a greeting, nothing more').toString('base64')],
    ['base64 of JSON', Buffer.from('{"user":"ci","role":"reader"}').toString('base64')],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style placeholder is the case under test
    ['a template', '${DATABASE_PASSWORD_FROM_VAULT}'],
    ['a mustache template', '{{ .Values.db.password }}'],
    ['an angle-bracket placeholder', '<paste-your-api-key-here>'],
    ['a run of x', 'xxxxxxxxxxxxxxxxxxxxxxxx'],
    ['an example', 'EXAMPLEKEY1234567890ABCDEF'],
    ['a low-entropy phrase', 'correcthorsebatterystaple'],
    ['a property path', 'process.env.COFFER_TOKEN'],
    ['a non-null property path', 'process.env.COFFER_TOKEN!'],
    ['an optional chain', 'previous?.endpoint.password'],
    ['a generic type', 'Pick<SecretsManagerClient'],
    ['a header name', 'x-aws-parameters-secrets-token'],
    ['a Coffer secret reference', 'billing/api-key#apiKey@AWSPREVIOUS'],
    ['a Coffer reference in a .env file (scan --fix)', 'coffer://t3f9a1c2b/apps/billing/db-password'],
    ['a Coffer reference with a field and a stage', 'coffer://Prod/DB+Main=1@ops#password@AWSPREVIOUS'],
    ['a path', 'kubernetes.io/serviceaccount/namespace'],
    ['a test value in words', 'do-not-echo-this-secret-0123456789'],
    ['an ARN', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf'],
    ['a call', 'readSecret(SECRET_PATH_V2)'],
    ['an environment variable name', 'ORDERS_DB_PASSWORD_V2'],
  ])('does not take %s for a secret', (_name, value) => {
    expect(looksLikeSecretValue(value)).toBe(false);
  });
});
