import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { loadLocalConfig, redactStoreUrl } from '../../../../lambdas/entrypoints/local/config.ts';

describe('Function: loadLocalConfig, shared store settings', () => {
  it('reads the store URL, password file, PGPASSWORD and keyring file from the environment, flags winning', () => {
    const env = {
      COFFER_STORE_URL: 'postgres://coffer@db:5432/coffer',
      COFFER_STORE_PASSWORD_FILE: '/run/secrets/pg',
      PGPASSWORD: 'from-env',
      COFFER_STORE_MAX_CONNECTIONS: '4',
      COFFER_KEYRING_FILE: 'keys/keyring.json',
    };
    expect(loadLocalConfig(env)).toMatchObject({
      storeUrl: 'postgres://coffer@db:5432/coffer',
      storePasswordFile: '/run/secrets/pg',
      storePassword: 'from-env',
      storeMaxConnections: 4,
      keyringFile: path.resolve('keys/keyring.json'),
    });
    expect(loadLocalConfig(env, { storeUrl: 'postgresql://other@db2/coffer' }).storeUrl).toBe(
      'postgresql://other@db2/coffer',
    );
  });

  it('keeps SQLite in the data dir without a store URL, with 10 sessions per node when it has one', () => {
    expect(loadLocalConfig({}).storeUrl).toBeUndefined();
    expect(loadLocalConfig({ COFFER_STORE_URL: 'postgres://db/coffer' }).storeMaxConnections).toBe(10);
  });

  it('refuses a store URL that is not postgres:// with a host and a database, without echoing it', () => {
    for (const url of ['mysql://u:pw-secret@db/coffer', 'postgres://u:pw-secret@db', 'not a url pw-secret']) {
      const error = (() => {
        try {
          loadLocalConfig({ COFFER_STORE_URL: url });
        } catch (caught) {
          return caught as Error;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect(error!.message).toMatch(/COFFER_STORE_URL must be a postgres:\/\/ URL naming a host and a database/);
      expect(error!.message).not.toContain('pw-secret');
    }
  });

  it('refuses the shared-store settings without a store URL rather than ignoring them', () => {
    expect(() => loadLocalConfig({ COFFER_KEYRING_FILE: 'k.json' })).toThrow(
      /COFFER_KEYRING_FILE is for a shared store/,
    );
    expect(() => loadLocalConfig({ COFFER_STORE_PASSWORD_FILE: 'pw' })).toThrow(
      /COFFER_STORE_PASSWORD_FILE is for a shared store/,
    );
  });
});

describe('Function: redactStoreUrl', () => {
  it('replaces the password and keeps everything else', () => {
    expect(redactStoreUrl('postgres://coffer:s3cr%40t@db:5432/coffer?sslmode=require')).toBe(
      'postgres://coffer:***@db:5432/coffer?sslmode=require',
    );
    expect(redactStoreUrl('postgres://coffer@db/coffer')).toBe('postgres://coffer@db/coffer');
  });
});
