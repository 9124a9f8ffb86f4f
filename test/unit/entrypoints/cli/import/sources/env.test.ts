import { describe, expect, it } from 'vitest';
import { envSource } from '../../../../../../lambdas/entrypoints/cli/import/sources/env.ts';

const keys = async (env: NodeJS.ProcessEnv, filter = {}) => (await envSource(env, filter).items()).map((i) => i.key);

describe('envSource', () => {
  const env = {
    DB_URL: 'postgres://x',
    DB_PASSWORD: 'p',
    HOME: '/root',
    COFFER_TOKEN: 'cft_x',
    COFFER_BUNDLE_PASSPHRASE: 'pp',
    VAULT_TOKEN: 'hvs.x',
  };

  it("never imports Coffer's own variables or the Vault token, even when included by name", async () => {
    expect(await keys(env)).toEqual(['DB_PASSWORD', 'DB_URL', 'HOME']);
    expect(await keys(env, { include: ['COFFER_*', 'VAULT_TOKEN'] })).toEqual([]);
  });

  it('keeps the names matching --include and drops those matching --exclude', async () => {
    expect(await keys(env, { include: ['DB_*'] })).toEqual(['DB_PASSWORD', 'DB_URL']);
    expect(await keys(env, { include: ['DB_*'], exclude: ['*_URL'] })).toEqual(['DB_PASSWORD']);
  });

  it('reads values as strings and skips empty ones', async () => {
    const items = await envSource({ A: 'v', B: '' }).items();
    expect(items.map((i) => [i.key, i.versions, i.unavailable])).toEqual([
      ['A', [{ value: { string: 'v' } }], undefined],
      ['B', [], ['empty value']],
    ]);
  });
});
