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

describe('the CLI signing with SigV4 (COFFER_AUTH=sigv4)', () => {
  it('reads with a Coffer access key from the default AWS credential chain, under that key’s policies', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/cli-sigv4', {
      rules: [{ path: 'secrets/cli-sigv4/*', capabilities: ['read'] }],
    });
    await api(address, rootToken, 'PUT', '/v1/secret/data/cli-sigv4/key', { value: 'signed-read' });
    await api(address, rootToken, 'PUT', '/v1/secret/data/elsewhere/key', { value: 'no' });
    const created = await cli([
      'access-key',
      'create',
      '--principal',
      'cli-user',
      '--policy',
      'cli-sigv4',
      '-o',
      'json',
    ]);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
    const env = {
      COFFER_ADDR: address,
      COFFER_TOKEN: '',
      COFFER_AUTH: 'sigv4',
      COFFER_SIGNING_SERVICE: 'coffer',
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    const read = await runCli(['secret', 'get', 'cli-sigv4/key'], { env });
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toContain('signed-read');
    expect((await runCli(['secret', 'get', 'elsewhere/key'], { env })).code).toBe(4);
    const forged = await runCli(['secret', 'get', 'cli-sigv4/key'], {
      env: { ...env, AWS_SECRET_ACCESS_KEY: `${key.secretAccessKey}x` },
    });
    expect(forged.code).toBe(4);
    // IAM caller mappings belong to the AWS deployment; the local node says so.
    const iam = await cli(['iam', 'list']);
    expect(iam.code).toBe(2);
    expect(iam.stderr).toContain('IAM callers are not accepted');
  });
});
