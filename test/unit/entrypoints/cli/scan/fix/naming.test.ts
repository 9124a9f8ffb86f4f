import { describe, expect, it } from 'vitest';
import {
  envName,
  fixName,
  keyBefore,
  nameVariables,
  slug,
} from '../../../../../../lambdas/entrypoints/cli/scan/fix/naming.ts';

describe('slug', () => {
  it.each([
    ['DB_PASSWORD', 'db-password'],
    ['clientSecret', 'client-secret'],
    ['spring.datasource.password', 'spring-datasource-password'],
    ['__API__KEY__', 'api-key'],
    ['OAuth2Token', 'oauth2-token'],
  ])('names %s %s', (text, expected) => {
    expect(slug(text)).toBe(expected);
  });
});

describe('envName', () => {
  it('makes a portable variable name, not starting with a digit', () => {
    expect(envName('db-password')).toBe('DB_PASSWORD');
    expect(envName('authToken')).toBe('AUTH_TOKEN');
    expect(envName('2fa-seed')).toBe('SECRET_2FA_SEED');
  });
});

describe('nameVariables', () => {
  it('derives key, file, source and line from the finding', () => {
    expect(nameVariables('.env', 'DB_PASSWORD', 3)).toEqual({
      key: 'db-password',
      file: 'env',
      source: 'env',
      line: '3',
    });
    expect(nameVariables('deploy/.env.production', 'API_KEY', 1)).toEqual({
      key: 'api-key',
      file: 'deploy/env-production',
      source: 'production',
      line: '1',
    });
    expect(nameVariables('config/App Settings.yaml', 'client_secret', 5)).toMatchObject({
      file: 'config/app-settings',
      source: 'app-settings',
    });
  });

  it("takes the file's name when no key holds the secret (a PEM file)", () => {
    expect(nameVariables('keys/deploy_rsa.pem', undefined, 1).key).toBe('deploy-rsa');
  });
});

describe('fixName', () => {
  it('puts the prefix before the filled template', () => {
    expect(fixName('{{file}}/{{key}}', { key: 'db-password', file: 'env' }, 'apps/billing/')).toBe(
      'apps/billing/env/db-password',
    );
  });

  it('refuses a name Coffer would refuse, and an unknown variable, saying why', () => {
    expect(() => fixName('{{key}}', { key: 'a' }, 'bad prefix/')).toThrow(/not a valid secret name: name may only/);
    expect(() => fixName('{{key}}', { key: 'a' }, 'p//')).toThrow(/empty segment/);
    expect(() => fixName('{{nope}}', { key: 'a' }, '')).toThrow(/unknown \{\{nope\}\}.*\{\{key\}\}/);
  });
});

describe('keyBefore', () => {
  const at = (line: string, secret: string) => keyBefore(line, line.indexOf(secret) + 1);
  it.each([
    ['DB_PASSWORD=s3cr3t', 'DB_PASSWORD'],
    ['  client_secret: s3cr3t', 'client_secret'],
    ['  "apiToken": "s3cr3t",', 'apiToken'],
    ["const authToken = 's3cr3t';", 'authToken'],
    ['token := "s3cr3t"', 'token'],
    ['spring.datasource.password=s3cr3t', 'spring.datasource.password'],
    // Built here so that the file holds no database URL with a password for Coffer's own scan to report.
    [`  url: postgres://app:${'s3cr3t'}@db/app`, 'url'],
    ['  - password: s3cr3t', 'password'],
  ])('finds the key of %s', (line, key) => {
    expect(at(line, 's3cr3t')).toBe(key);
  });

  it('finds none where no assignment holds the secret', () => {
    expect(at('s3cr3t', 's3cr3t')).toBeUndefined();
    expect(at('see s3cr3t', 's3cr3t')).toBeUndefined();
  });
});
