import { describe, expect, it, vi } from 'vitest';
import { CofferClient } from '../../lambdas/sdk/client.ts';
import { CofferAccessDeniedError, CofferConflictError, CofferNotFoundError } from '../../lambdas/sdk/errors.ts';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

// The SigV4 tests sign for eu-west-1, which the node serves only when told to.
const current = useServer({ COFFER_SIGV4_REGIONS: 'local,eu-west-1' });

/** Stores `<prefix>/key` and creates (with the CLI) an access key whose only policy reads `<prefix>/*`. */
async function accessKeyReading(
  prefix: string,
  value: string,
): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const { address, rootToken } = current();
  const name = prefix.replaceAll('/', '-');
  await api(address, rootToken, 'PUT', `/v1/sys/policies/${name}`, {
    rules: [{ path: `secrets/${prefix}/*`, capabilities: ['read'] }],
  });
  await api(address, rootToken, 'PUT', `/v1/secret/data/${prefix}/key`, { value });
  const created = await runCli(['access-key', 'create', '--principal', name, '--policy', name, '-o', 'json'], {
    env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken },
  });
  expect(created.code).toBe(0);
  return JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
}

/** A fetch that counts the requests it sends, by path area (`data`, `metadata`). */
function countingFetch() {
  const counts = { data: 0, metadata: 0 };
  const fetch = ((input: URL | string | Request, init?: RequestInit) => {
    const url = new URL(input.toString());
    if (url.pathname.startsWith('/v1/secret/data/')) counts.data++;
    if (url.pathname.startsWith('/v1/secret/metadata/')) counts.metadata++;
    return globalThis.fetch(input, init);
  }) as typeof globalThis.fetch;
  return { fetch, counts };
}

describe('CofferClient against a running server', () => {
  it('reads and describes by full or partial ARN, through the Secrets Manager–compatible path, typed errors included', async () => {
    const { address, rootToken } = current();
    const coffer = new CofferClient({ endpoint: address, auth: { token: rootToken }, env: {}, cache: false });
    const put = await coffer.putSecretValue({ secretId: 'sdk/by-arn/db', secretString: 'arn-value' });
    const byArn = await coffer.getSecretValue({ secretId: put.ARN });
    expect(byArn).toMatchObject({ Name: 'sdk/by-arn/db', VersionId: put.VersionId, SecretString: 'arn-value' });
    const partial = put.ARN.slice(0, -7);
    expect((await coffer.getSecretValue({ secretId: partial, versionStage: 'AWSCURRENT' })).SecretString).toBe(
      'arn-value',
    );
    const described = await coffer.describe(put.ARN);
    expect(described.VersionIdsToStages).toEqual({ [put.VersionId]: ['AWSCURRENT'] });
    await expect(
      coffer.getSecretValue({ secretId: put.ARN.replace(/-[A-Za-z0-9]{6}$/, '-zzzzzz') }),
    ).rejects.toBeInstanceOf(CofferNotFoundError);
  });

  it('with a token: puts, reads (string and binary, by stage and version id), describes and batch-gets', async () => {
    const { address, rootToken } = current();
    const coffer = new CofferClient({ endpoint: address, auth: { token: rootToken }, env: {} });
    const first = await coffer.putSecretValue({ secretId: 'sdk/app/db', secretString: 'one' });
    const second = await coffer.putSecretValue({ secretId: 'sdk/app/db', secretString: 'two' });
    expect(second.VersionStages).toEqual(['AWSCURRENT']);

    const current_ = await coffer.getSecretValue({ secretId: 'sdk/app/db' });
    expect(current_).toMatchObject({ Name: 'sdk/app/db', VersionId: second.VersionId, SecretString: 'two' });
    expect(current_.ARN).toMatch(/^arn:aws:secretsmanager:[^:]+:\d{12}:secret:sdk\/app\/db-[A-Za-z0-9]{6}$/);
    expect(Math.abs(current_.CreatedDate - Date.now() / 1000)).toBeLessThan(600);
    const previous = await coffer.getSecretValue({ secretId: 'sdk/app/db', versionStage: 'AWSPREVIOUS' });
    expect(previous.SecretString).toBe('one');
    expect((await coffer.getSecretValue({ secretId: 'sdk/app/db', versionId: first.VersionId })).SecretString).toBe(
      'one',
    );

    await coffer.putSecretValue({ secretId: 'sdk/app/bin', secretBinary: new Uint8Array([0, 255, 1]) });
    expect((await coffer.getSecretValue({ secretId: 'sdk/app/bin' })).SecretBinary).toBe(
      Buffer.from([0, 255, 1]).toString('base64'),
    );

    const described = await coffer.describe('sdk/app/db');
    expect(described.VersionIdsToStages).toEqual({
      [second.VersionId]: ['AWSCURRENT'],
      [first.VersionId]: ['AWSPREVIOUS'],
    });

    const batch = await coffer.batchGet(['sdk/app/db', 'sdk/app/missing', 'sdk/app/bin']);
    expect(batch.SecretValues.map((s) => s.Name)).toEqual(['sdk/app/db', 'sdk/app/bin']);
    expect(batch.Errors.map((e) => [e.SecretId, e.ErrorCode])).toEqual([['sdk/app/missing', 'CofferNotFoundError']]);
  });

  it('maps the server’s errors to typed errors', async () => {
    const { address, rootToken } = current();
    const coffer = new CofferClient({ endpoint: address, auth: { token: rootToken }, env: {} });
    await expect(coffer.getSecretValue({ secretId: 'sdk/none' })).rejects.toBeInstanceOf(CofferNotFoundError);
    const stranger = new CofferClient({ endpoint: address, auth: { token: 'not-a-token' }, env: {} });
    const denied = await stranger.describe('sdk/none').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(CofferAccessDeniedError);
    expect((denied as CofferAccessDeniedError).requestId).toEqual(expect.any(String));
    await coffer.putSecretValue({ secretId: 'sdk/cas', secretString: 'a', clientRequestToken: 'a'.repeat(32) });
    await expect(
      coffer.putSecretValue({ secretId: 'sdk/cas', secretString: 'b', clientRequestToken: 'a'.repeat(32) }),
    ).rejects.toBeInstanceOf(CofferConflictError);
  });

  it('re-confirms a cached value with a metadata read after the TTL, and picks up a rotation', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/secret/data/sdk/rotating', { value: 'v1' });
    let now = 0;
    const { fetch, counts } = countingFetch();
    const coffer = new CofferClient({
      endpoint: address,
      auth: { token: rootToken },
      cache: { ttlMs: 1000 },
      fetch,
      now: () => now,
      env: {},
    });
    expect((await coffer.getSecretValue({ secretId: 'sdk/rotating' })).SecretString).toBe('v1');
    expect((await coffer.getSecretValue({ secretId: 'sdk/rotating' })).SecretString).toBe('v1');
    expect(counts).toEqual({ data: 1, metadata: 0 });
    now = 1000;
    expect((await coffer.getSecretValue({ secretId: 'sdk/rotating' })).SecretString).toBe('v1');
    expect(counts).toEqual({ data: 1, metadata: 1 });
    // Rotated by someone else: the next check sees AWSCURRENT moved.
    await api(address, rootToken, 'PUT', '/v1/secret/data/sdk/rotating', { value: 'v2' });
    now = 2000;
    expect((await coffer.getSecretValue({ secretId: 'sdk/rotating' })).SecretString).toBe('v2');
    expect(counts).toEqual({ data: 2, metadata: 2 });
  });

  it('with SigV4: signs with a Coffer access key (service coffer) and is held to the key’s policies', async () => {
    const { address } = current();
    const key = await accessKeyReading('sdk/signed', 'signed-value');
    const coffer = new CofferClient({
      endpoint: address,
      auth: { sigv4: { credentials: key, service: 'coffer', region: 'eu-west-1' } },
      env: {},
    });
    const value = await coffer.getSecretValue({ secretId: 'sdk/signed/key' });
    expect(value.SecretString).toBe('signed-value');
    expect((await coffer.describe('sdk/signed/key')).Name).toBe('sdk/signed/key');
    await expect(coffer.getSecretValue({ secretId: 'sdk/app/db' })).rejects.toBeInstanceOf(CofferAccessDeniedError);
    const forged = new CofferClient({
      endpoint: address,
      auth: { sigv4: { credentials: { ...key, secretAccessKey: `${key.secretAccessKey}x` }, region: 'eu-west-1' } },
      env: {},
    });
    await expect(forged.getSecretValue({ secretId: 'sdk/signed/key' })).rejects.toBeInstanceOf(CofferAccessDeniedError);
  });

  it('with SigV4 and no explicit credentials, takes them from the default chain (environment)', async () => {
    const key = await accessKeyReading('sdk/env', 'from-env-chain');
    vi.stubEnv('AWS_ACCESS_KEY_ID', key.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', key.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);
    try {
      const coffer = new CofferClient({ endpoint: current().address, auth: { sigv4: { region: 'local' } }, env: {} });
      expect((await coffer.getSecretValue({ secretId: 'sdk/env/key' })).SecretString).toBe('from-env-chain');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
