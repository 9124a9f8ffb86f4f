import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
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
    expect(iam.stderr).toContain('mapping IAM callers to principals is not enabled on this runtime');
  });
});

/** node:http rather than fetch: fetch will not send a `Host` of our choosing. */
function send(
  headers: Record<string, string>,
  options: { method?: string; path?: string; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const url = new URL(current().address);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: options.method ?? 'POST', path: options.path ?? '/', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A Secrets Manager JSON 1.1 call signed by the SDK's own signer, optionally leaving headers out of the signature. */
async function signSecretsManager(
  key: { accessKeyId: string; secretAccessKey: string },
  target: string,
  body: string,
  options: { region?: string; host?: string; unsigned?: string[] } = {},
): Promise<Record<string, string>> {
  const url = new URL(current().address);
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: {
      host: options.host ?? url.host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `secretsmanager.${target}`,
    },
    body,
  });
  const signer = new SignatureV4({
    credentials: key,
    region: options.region ?? 'us-east-1',
    service: 'secretsmanager',
    sha256: Sha256,
  });
  const signed = await signer.sign(request, { unsignableHeaders: new Set(options.unsigned ?? []) });
  return signed.headers as Record<string, string>;
}

describe('what a signature binds, and which Host the node answers to', () => {
  const SECRET = 'strict-canary-value';

  async function strictKey() {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/strict', {
      rules: [{ path: 'secrets/strict/*', capabilities: ['read', 'list'] }],
    });
    await api(address, rootToken, 'PUT', '/v1/secret/data/strict/db', { value: SECRET });
    const created = await cli(['access-key', 'create', '--principal', 'strict', '--policy', 'strict', '-o', 'json']);
    return JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
  }

  it('refuses an x-amz-target outside the signature, so DescribeSecret cannot be turned into GetSecretValue', async () => {
    const key = await strictKey();
    const body = JSON.stringify({ SecretId: 'strict/db' });
    const genuine = await signSecretsManager(key, 'GetSecretValue', body);
    const ok = await send(genuine, { body });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain(SECRET);

    const describeCall = await signSecretsManager(key, 'DescribeSecret', body, { unsigned: ['x-amz-target'] });
    expect(describeCall.authorization).not.toContain('x-amz-target');
    for (const target of ['DescribeSecret', 'GetSecretValue']) {
      const res = await send({ ...describeCall, 'x-amz-target': `secretsmanager.${target}` }, { body });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text)).toMatchObject({ __type: 'IncompleteSignature' });
      expect(res.text).not.toContain(SECRET);
    }
    for (const name of ['content-type', 'x-amz-date']) {
      const headers = await signSecretsManager(key, 'GetSecretValue', body, { unsigned: [name] });
      const res = await send(headers, { body });
      expect(res.status, name).toBe(403);
      expect(JSON.parse(res.text).__type).toBe('IncompleteSignature');
    }
    const token = await send({ ...genuine, 'x-amz-security-token': 'added-after-signing' }, { body });
    expect(token.status).toBe(403);
    expect(JSON.parse(token.text).__type).toBe('IncompleteSignature');
  });

  it('refuses a region the node does not serve (by default its own, us-east-1 unless configured)', async () => {
    const key = await strictKey();
    const body = JSON.stringify({ SecretId: 'strict/db' });
    const res = await send(await signSecretsManager(key, 'GetSecretValue', body, { region: 'eu-central-1' }), { body });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({
      __type: 'InvalidSignatureException',
      message: expect.stringMatching(/valid region, not 'eu-central-1'/),
    });
    const own = await send(await signSecretsManager(key, 'GetSecretValue', body, { region: 'us-east-1' }), { body });
    expect(own.status).toBe(200);
    // The node's default region was once the made-up 'local': a real region now, and 'local' is not served.
    const local = await send(await signSecretsManager(key, 'GetSecretValue', body, { region: 'local' }), { body });
    expect(local.status).toBe(403);
  });

  it('refuses Host: evil.example with 421, audited, and answers loopback names', async () => {
    const key = await strictKey();
    const port = new URL(current().address).port;
    const body = JSON.stringify({ SecretId: 'strict/db' });
    // Even with a valid signature made for that host: the request never reaches the broker.
    const rebound = await signSecretsManager(key, 'GetSecretValue', body, { host: `evil.example:${port}` });
    const refused = await send(rebound, { body });
    expect(refused.status).toBe(421);
    expect(JSON.parse(refused.text).__type).toBe('MisdirectedRequest');
    expect(refused.text).not.toContain(SECRET);
    const native = await send({ host: 'evil.example' }, { method: 'GET', path: '/v1/sys/health' });
    expect(native.status).toBe(421);
    expect(JSON.parse(native.text).error.code).toBe('misdirected_request');
    const audit = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
    expect(audit).toContain('"operation":"http.misdirected"');

    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'localhost']) {
      const res = await send({ host }, { method: 'GET', path: '/v1/sys/health' });
      expect(res.status, host).toBe(200);
    }
    const signedLocal = await signSecretsManager(key, 'GetSecretValue', body, { host: `localhost:${port}` });
    expect((await send(signedLocal, { body })).status).toBe(200);
  });
});
