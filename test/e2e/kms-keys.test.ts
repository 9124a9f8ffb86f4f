import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, runCli, startServer, tempDir } from '../support/server-process.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/** The Secrets Manager API under the native path space, authenticated with a token. */
async function sm(address: string, token: string, operation: string, body: unknown) {
  const res = await fetch(`${address}/v1/aws/secretsmanager`, {
    method: 'POST',
    headers: {
      'x-coffer-token': token,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `secretsmanager.${operation}`,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Named keys (KmsKeyId) with the CLI', () => {
  it('creates a key, seals a secret under it, shows it in DescribeSecret, survives rotation and restart', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const canary = `CANARY-${randomBytes(12).toString('hex')}`;
    let server = await startServer(dataDir);
    const cli = (args: string[], input?: string) =>
      runCli([...args, '-o', 'json'], {
        env: { COFFER_ADDR: server.address, COFFER_TOKEN: server.rootToken },
        ...(input === undefined ? {} : { input }),
      });
    try {
      const created = await cli(['keyring', 'key', 'create', 'payments']);
      expect(created.code, created.stderr).toBe(0);
      const key = JSON.parse(created.stdout) as { arn: string; keyId: string; aliases: string[] };
      expect(key.aliases).toEqual(['payments']);
      expect(key.arn).toMatch(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/);
      const listed = await cli(['keyring', 'key', 'list']);
      expect((JSON.parse(listed.stdout) as { keys: { arn: string }[] }).keys.map((k) => k.arn)).toEqual([key.arn]);

      const secret = await cli(['secret', 'create', 'app/db', '--kms-key-id', 'alias/payments'], canary);
      expect(secret.code, secret.stderr).toBe(0);
      const described = await sm(server.address, server.rootToken, 'DescribeSecret', { SecretId: 'app/db' });
      expect(described.body.KmsKeyId).toBe(key.arn);
      const plain = await cli(['secret', 'create', 'app/plain'], 'x');
      expect(plain.code, plain.stderr).toBe(0);
      const plainDescribed = await sm(server.address, server.rootToken, 'DescribeSecret', { SecretId: 'app/plain' });
      expect(plainDescribed.body).not.toHaveProperty('KmsKeyId');

      // Root-key rotation re-seals the named key; the secret under it still reads, before and after a restart.
      expect((await cli(['keyring', 'rotate'])).code).toBe(0);
      expect(JSON.parse((await cli(['secret', 'get', 'app/db'])).stdout).value).toBe(canary);
      await server.stop();
      server = await startServer(dataDir);
      expect(JSON.parse((await cli(['secret', 'get', 'app/db'])).stdout).value).toBe(canary);

      // A second key, and the secret moved onto it with the CLI: its versions are re-encrypted.
      expect((await cli(['keyring', 'key', 'create', 'alias/ledger'])).code).toBe(0);
      const moved = await cli(['secret', 'update', 'app/db', '--kms-key-id', 'alias/ledger']);
      expect(moved.code, moved.stderr).toBe(0);
      const after = await sm(server.address, server.rootToken, 'DescribeSecret', { SecretId: 'app/db' });
      expect(after.body.KmsKeyId).not.toBe(key.arn);
      expect(after.body.KmsKeyId).toMatch(/:key\//);
      const value = await sm(server.address, server.rootToken, 'GetSecretValue', { SecretId: 'app/db' });
      expect(value.body.SecretString).toBe(canary);
      const unknown = await sm(server.address, server.rootToken, 'CreateSecret', {
        Name: 'app/other',
        SecretString: 'x',
        KmsKeyId: 'alias/none',
      });
      expect(unknown.body.__type).toBe('InvalidParameterException');
    } finally {
      await server.stop();
    }
    // Neither the value nor anything of it is in any file: it is sealed under a named key, sealed under the root key.
    const needles = [Buffer.from(canary), Buffer.from(Buffer.from(canary).toString('base64').slice(0, 16))];
    for (const file of filesUnder(dataDir)) {
      if (!statSync(file).isFile()) continue;
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(needle), `${file} holds plaintext`).toBe(false);
    }
    tmp.cleanup();
  });

  it('works from the aws CLI: --kms-key-id on create-secret, KmsKeyId in describe-secret, AccessDenied without the key', async () => {
    const tmp = tempDir();
    const server = await startServer(path.join(tmp.dir, 'data'), { COFFER_SIGV4_REGIONS: 'eu-west-1' });
    const env = { COFFER_ADDR: server.address, COFFER_TOKEN: server.rootToken };
    try {
      const key = JSON.parse(
        (await runCli(['keyring', 'key', 'create', 'payments', '-o', 'json'], { env })).stdout,
      ) as { arn: string };
      const credentials = async (name: string, rules: unknown[]) => {
        await api(server.address, server.rootToken, 'PUT', `/v1/sys/policies/${name}`, { rules });
        const created = await runCli(['access-key', 'create', '--principal', name, '--policy', name, '-o', 'json'], {
          env,
        });
        const { accessKeyId, secretAccessKey } = JSON.parse(created.stdout) as Record<string, string>;
        return { AWS_ACCESS_KEY_ID: accessKeyId!, AWS_SECRET_ACCESS_KEY: secretAccessKey! };
      };
      const secrets = { path: 'secrets/*', capabilities: ['create', 'read', 'update', 'list'] };
      const user = await credentials('payments-user', [
        secrets,
        { path: 'sys/keyring/keys/payments', capabilities: ['read'] },
      ]);
      const stranger = await credentials('stranger', [secrets]);
      const aws = (keys: Record<string, string>, args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(
            'aws',
            ['secretsmanager', ...args, '--endpoint-url', server.address, '--output', 'json'],
            {
              env: {
                PATH: process.env.PATH,
                HOME: process.env.HOME,
                ...keys,
                AWS_DEFAULT_REGION: 'eu-west-1',
                AWS_CONFIG_FILE: '/dev/null',
                AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
                AWS_PAGER: '',
                AWS_MAX_ATTEMPTS: '1',
              },
              timeout: 60_000,
            },
            (err, stdout, stderr) =>
              resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
          );
        });
      const created = await aws(user, [
        'create-secret',
        '--name',
        'pay/db',
        '--secret-string',
        'pw',
        '--kms-key-id',
        'alias/payments',
      ]);
      expect(created.code, created.stderr).toBe(0);
      const described = await aws(user, ['describe-secret', '--secret-id', 'pay/db']);
      expect(described.code, described.stderr).toBe(0);
      expect((JSON.parse(described.stdout) as { KmsKeyId?: string }).KmsKeyId).toBe(key.arn);
      const refused = await aws(stranger, [
        'create-secret',
        '--name',
        'pay/other',
        '--secret-string',
        'pw',
        '--kms-key-id',
        'alias/payments',
      ]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('(AccessDeniedException)');
      expect(refused.stderr).toContain('Access to KMS is not allowed');
    } finally {
      await server.stop();
      tmp.cleanup();
    }
  });
});
