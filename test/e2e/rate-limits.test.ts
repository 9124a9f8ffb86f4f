import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { readJsonLines } from '../support/json-lines.js';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/** Issue 12, item 3: rate-limit quotas and login lockout against the real server, its CLI and the AWS SDK. */

const current = useServer();
const cli = (args: string[], options: { token?: string; input?: string } = {}) =>
  runCli(args, {
    env: { COFFER_ADDR: current().address, COFFER_TOKEN: options.token ?? current().rootToken },
    ...(options.input === undefined ? {} : { input: options.input }),
  });

async function ok(args: string[], options: { token?: string; input?: string } = {}): Promise<string> {
  const result = await cli(args, options);
  expect(result.code, `coffer ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

interface AuditLine {
  type: string;
  requestId: string;
  operation: string;
  outcome?: string;
  status?: number;
  path: string;
  denied?: { path: string; reason?: string };
}
const auditLines = (): AuditLine[] => readJsonLines<AuditLine>(path.join(current().dataDir, 'audit', 'audit.log'));

describe('coffer quota', () => {
  it('puts, lists, gets and deletes quotas, in tables and JSON', async () => {
    const table = await ok([
      'quota',
      'put',
      'approle-logins',
      '--rate',
      '20',
      '--interval',
      '1m',
      '--path',
      'auth/approle/',
      '--per',
      'source',
      '--burst',
      '5',
      '--block-interval',
      '5m',
    ]);
    expect(table).toMatch(/^NAME\s+PATH\s+RATE\s+INTERVAL\s+BURST\s+PER\s+BLOCK$/m);
    expect(table).toMatch(/^approle-logins\s+auth\/approle\/\s+20\s+60s\s+5\s+source\s+300s$/m);
    await ok(['quota', 'put', 'everything', '--rate', '100000', '--per', 'global']);
    const listed = JSON.parse(await ok(['quota', 'list', '-o', 'json'])) as { quotas: { name: string }[] };
    expect(listed.quotas.map((q) => q.name)).toEqual(['approle-logins', 'everything']);
    const got = JSON.parse(await ok(['quota', 'get', 'everything', '-o', 'json']));
    expect(got).toMatchObject({
      name: 'everything',
      type: 'rate-limit',
      path: '',
      rate: 100000,
      interval: 1,
      burst: 100000,
    });
    expect(await ok(['quota', 'delete', 'everything'])).toBe('deleted quota everything\n');
    expect(await ok(['quota', 'delete', 'approle-logins'])).toBe('deleted quota approle-logins\n');
    expect(await ok(['quota', 'list'])).toContain('(none)');

    const bad = await cli(['quota', 'put', 'x', '--rate', '0']);
    expect(bad.code).toBe(2);
    const wildcard = await cli(['quota', 'put', 'x', '--rate', '1', '--path', 'secrets/*']);
    expect(wildcard.code).toBe(2);
    expect(wildcard.stderr).toContain('path');
  });
});

describe('a quota under concurrent load', () => {
  it('admits within 10% of rate × elapsed + burst, however many requests press on it', async () => {
    const { address, rootToken } = current();
    const rate = 40;
    const burst = 5;
    await api(address, rootToken, 'PUT', '/v1/secret/data/load/x', { value: 'v' });
    const put = await api(address, rootToken, 'POST', '/v1/sys/quotas/rate-limit/load', {
      path: 'secrets/load/',
      rate,
      burst,
      per: 'global',
    });
    expect(put.status).toBe(200);

    const statuses: number[] = [];
    const retryAfter = new Set<string | null>();
    const workers = 40;
    const runMs = 3000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (performance.now() - started < runMs) {
          const res = await fetch(`${address}/v1/secret/data/load/x`, { headers: { 'x-coffer-token': rootToken } });
          await res.arrayBuffer();
          statuses.push(res.status);
          if (res.status === 429) retryAfter.add(res.headers.get('retry-after'));
        }
      }),
    );
    const elapsedSeconds = (performance.now() - started) / 1000;
    await api(address, rootToken, 'DELETE', '/v1/sys/quotas/rate-limit/load');

    const accepted = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    expect(accepted + refused).toBe(statuses.length);
    // The load really pressed on the limit: most requests were refused.
    expect(refused).toBeGreaterThan(accepted);
    const allowance = rate * elapsedSeconds + burst;
    expect(Math.abs(accepted - allowance) / allowance, `${accepted} accepted of ${allowance.toFixed(1)}`).toBeLessThan(
      0.1,
    );
    expect([...retryAfter]).toEqual(['1']);
  });
});

describe('the Secrets Manager API under a quota', () => {
  it('answers the AWS SDK with ThrottlingException (HTTP 400)', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/sm-limited', {
      rules: [{ path: 'secrets/limited/*', capabilities: ['create', 'read'] }],
    });
    const created = await ok(['access-key', 'create', '--principal', 'sm', '--policy', 'sm-limited', '-o', 'json']);
    const credentials = JSON.parse(created) as { accessKeyId: string; secretAccessKey: string };
    const sm = new SecretsManagerClient({ endpoint: address, region: 'us-east-1', credentials, maxAttempts: 1 });
    await sm.send(new CreateSecretCommand({ Name: 'limited/db', SecretString: 's3cr3t' }));
    await api(address, rootToken, 'POST', '/v1/sys/quotas/rate-limit/sm', {
      path: 'secrets/limited/',
      rate: 1,
      interval: '1m',
      per: 'principal',
    });
    const first = await sm.send(new GetSecretValueCommand({ SecretId: 'limited/db' }));
    expect(first.SecretString).toBe('s3cr3t');
    const err = await sm.send(new GetSecretValueCommand({ SecretId: 'limited/db' })).then(
      () => undefined,
      (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode?: number } },
    );
    expect(err?.name).toBe('ThrottlingException');
    expect(err?.$metadata.httpStatusCode).toBe(400);
    expect(err?.message).toContain('quota sm');
    // Another principal has a bucket of its own.
    expect(await ok(['secret', 'get', 'limited/db'])).toContain('s3cr3t');
    await api(address, rootToken, 'DELETE', '/v1/sys/quotas/rate-limit/sm');
  });
});

describe('login lockout', () => {
  it('locks out a brute-force loop of wrong AppRole secret ids; the right one is refused while locked; all audited', async () => {
    await ok([
      'auth',
      'enable',
      'approle',
      '--path',
      'guarded',
      '--user-lockout-threshold',
      '4',
      '--user-lockout-duration',
      '10m',
    ]);
    await api(current().address, current().rootToken, 'PUT', '/v1/sys/policies/guarded-read', {
      rules: [{ path: 'secrets/guarded/*', capabilities: ['read'] }],
    });
    await ok(['secret', 'put', 'guarded/db'], { input: 'guarded-value' });
    await ok(['approle', 'role', 'put', 'web', '--path', 'guarded', '--policy', 'guarded-read']);
    const roleId = (await ok(['approle', 'role-id', 'web', '--path', 'guarded'])).trim();
    const secret = JSON.parse(
      await ok(['approle', 'secret-id', 'create', 'web', '--path', 'guarded', '-o', 'json']),
    ) as {
      secret_id: string;
    };
    const login = (secretId: string) =>
      cli(['login', '--method', 'approle', '--path', 'guarded', '--role-id', roleId], { token: '', input: secretId });

    const attempts = [];
    for (let i = 0; i < 6; i++) attempts.push(await login(`guess-${i}`));
    expect(attempts.slice(0, 4).map((a) => a.code)).toEqual([4, 4, 4, 4]);
    for (const locked of attempts.slice(4)) {
      expect(locked.code).toBe(1);
      expect(locked.stderr).toMatch(/locked out; retry after \d+s \(throttled\)/);
    }
    const right = await login(secret.secret_id);
    expect(right.code).toBe(1);
    expect(right.stderr).toContain('locked out');
    expect(right.stdout).not.toContain('cft_');

    const logins = auditLines().filter(
      (line) => line.operation === 'auth.login' && line.type === 'response' && line.path === 'auth/guarded/login',
    );
    expect(logins.map((line) => [line.outcome, line.status, line.denied?.reason?.split(':')[0]])).toEqual([
      ...Array.from({ length: 4 }, () => ['denied', 403, 'approle login at auth/guarded (role web) refused']),
      ...Array.from({ length: 3 }, () => ['denied', 429, 'locked_out']),
    ]);
    const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
    expect(log).not.toContain(roleId);
    expect(log).not.toContain(secret.secret_id);
  });
});
