import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { signedFetch } from '../support/sigv4.ts';
import { useServer } from '../support/use-server.ts';

const current = useServer();
const cli = (args: string[], input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken }, input });

describe('SigV4 access keys on the native API', () => {
  it('authenticates a request signed with a Coffer-issued key, under that key’s policies', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/ci', {
      rules: [{ path: 'secrets/ci/*', capabilities: ['read'] }],
    });
    await api(address, rootToken, 'PUT', '/v1/secret/data/ci/deploy-key', { value: 'ci-secret' });
    await api(address, rootToken, 'PUT', '/v1/secret/data/prod/db', { value: 'prod-secret' });
    const created = await cli(['access-key', 'create', '--principal', 'ci-pipeline', '--policy', 'ci', '-o', 'json']);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };

    const read = await signedFetch(address, key, 'GET', '/v1/secret/data/ci/deploy-key');
    expect(read.status).toBe(200);
    expect(read.body.value).toBe('ci-secret');
    expect((await signedFetch(address, key, 'GET', '/v1/secret/data/prod/db')).status).toBe(403);
    const forged = await signedFetch(
      address,
      { ...key, secretAccessKey: `${key.secretAccessKey}x` },
      'GET',
      '/v1/secret/data/ci/deploy-key',
    );
    expect(forged.status).toBe(401);

    // The secret access key is stored sealed: it is nowhere in the data directory's files.
    for (const file of ['coffer.db', 'coffer.db-wal', path.join('audit', 'audit.log')]) {
      const bytes = (() => {
        try {
          return readFileSync(path.join(current().dataDir, file));
        } catch {
          return Buffer.alloc(0);
        }
      })();
      expect(bytes.includes(Buffer.from(key.secretAccessKey))).toBe(false);
    }
  });

  it('imports an existing pair such as LocalStack’s test/test, with the secret read from stdin', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/everything', {
      rules: [{ path: 'secrets/*', capabilities: ['read'] }],
    });
    await api(address, rootToken, 'PUT', '/v1/secret/data/imported/x', { value: 'via-test-key' });
    const imported = await cli(
      ['access-key', 'create', '--principal', 'localstack', '--policy', 'everything', '--access-key-id', 'test'],
      'test',
    );
    expect(imported.code).toBe(0);
    const read = await signedFetch(
      address,
      { accessKeyId: 'test', secretAccessKey: 'test' },
      'GET',
      '/v1/secret/data/imported/x',
    );
    expect(read.body.value).toBe('via-test-key');
    expect((await cli(['access-key', 'list'])).stdout).toContain('localstack');
    expect((await cli(['access-key', 'delete', 'test'])).code).toBe(0);
    const after = await signedFetch(
      address,
      { accessKeyId: 'test', secretAccessKey: 'test' },
      'GET',
      '/v1/secret/data/imported/x',
    );
    expect(after.status).toBe(401);
  });
});
