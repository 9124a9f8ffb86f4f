import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CofferClient } from '../../../lambdas/sdk/client.ts';
import { CofferAccessDeniedError, CofferValidationError } from '../../../lambdas/sdk/errors.ts';
import type { LoginOptions } from '../../../lambdas/sdk/login-options.ts';
import { tempDir } from '../../support/server-process.ts';

/** Issue 12: `CofferClient({ auth: { login } })` against a stub of the login and secret routes. */

interface Call {
  method: string;
  path: string;
  token: string | undefined;
  body: Record<string, unknown> | undefined;
}

const read = {
  name: 'app/db',
  arn: 'arn:aws:secretsmanager:local:000000000000:secret:app/db-AbCdEf',
  versionId: 'v1',
  versionStages: ['AWSCURRENT'],
  createdAt: '2026-01-02T03:04:05.678Z',
  value: 'db-password',
};

/** The server: each login issues `tok-<n>` valid for `leaseSeconds`; tokens in `revoked` get 401. */
function stubServer(options: { leaseSeconds?: number; refuseLogin?: boolean } = {}) {
  const calls: Call[] = [];
  const revoked = new Set<string>();
  let issued = 0;
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });
  const fetch = (async (input: URL | string, init: RequestInit = {}) => {
    const url = new URL(input.toString());
    const headers = init.headers as Record<string, string>;
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    calls.push({ method: init.method ?? 'GET', path: url.pathname, token: headers['x-coffer-token'], body });
    if (url.pathname.endsWith('/login')) {
      if (options.refuseLogin === true) {
        return json(403, {
          error: {
            code: 'permission_denied',
            message: 'approle login at auth/approle (role web) refused: unknown secret id',
          },
        });
      }
      issued++;
      return json(200, {
        auth: {
          client_token: `tok-${issued}`,
          accessor: `acc-${issued}`,
          policies: ['web'],
          token_policies: ['web'],
          metadata: {},
          lease_duration: options.leaseSeconds ?? 100,
          renewable: true,
          num_uses: 0,
          mount_type: 'approle',
          mount_path: 'approle',
          role_name: 'web',
        },
      });
    }
    const token = headers['x-coffer-token'];
    if (token === undefined || revoked.has(token)) {
      return json(401, { error: { code: 'unauthenticated', message: 'invalid or expired token' } });
    }
    return json(200, read);
  }) as typeof globalThis.fetch;
  return { fetch, calls, revoked };
}

const approle: LoginOptions = { method: 'approle', roleId: 'the-role-id', secretId: 'the-secret-id' };

describe('CofferClient: auth.login', () => {
  it('logs in on first use, once for concurrent calls, and sends the token it got', async () => {
    const server = stubServer();
    const coffer = new CofferClient({ auth: { login: approle }, fetch: server.fetch, cache: false, env: {} });
    expect(server.calls).toEqual([]);
    const values = await Promise.all([
      coffer.getSecretValue({ secretId: 'app/db' }),
      coffer.getSecretValue({ secretId: 'app/db' }),
    ]);
    expect(values.map((v) => v.SecretString)).toEqual(['db-password', 'db-password']);
    expect(server.calls.map((c) => `${c.method} ${c.path} ${c.token ?? '-'}`)).toEqual([
      'POST /v1/auth/approle/login -',
      'GET /v1/secret/data/app/db tok-1',
      'GET /v1/secret/data/app/db tok-1',
    ]);
    expect(server.calls[0]!.body).toEqual({ role_id: 'the-role-id', secret_id: 'the-secret-id' });
  });

  it('logs in again once 80 % of the token life has passed', async () => {
    const server = stubServer({ leaseSeconds: 100 });
    let now = 1_000_000;
    const coffer = new CofferClient({
      auth: { login: { ...approle, mount: 'apps' } },
      fetch: server.fetch,
      cache: false,
      env: {},
      now: () => now,
    });
    await coffer.getSecretValue({ secretId: 'app/db' });
    now += 79_999;
    await coffer.getSecretValue({ secretId: 'app/db' });
    now += 1;
    await coffer.getSecretValue({ secretId: 'app/db' });
    expect(server.calls.map((c) => `${c.path} ${c.token ?? '-'}`)).toEqual([
      '/v1/auth/apps/login -',
      '/v1/secret/data/app/db tok-1',
      '/v1/secret/data/app/db tok-1',
      '/v1/auth/apps/login -',
      '/v1/secret/data/app/db tok-2',
    ]);
  });

  it('logs in again once when the server refuses the token (401), and does not loop', async () => {
    const server = stubServer();
    const coffer = new CofferClient({ auth: { login: approle }, fetch: server.fetch, cache: false, env: {} });
    await coffer.getSecretValue({ secretId: 'app/db' });
    server.revoked.add('tok-1');
    expect((await coffer.getSecretValue({ secretId: 'app/db' })).SecretString).toBe('db-password');
    expect(server.calls.map((c) => c.token ?? 'login')).toEqual(['login', 'tok-1', 'tok-1', 'login', 'tok-2']);
    // Every token refused: one new login per call, then the 401 reaches the caller.
    server.revoked.add('tok-2');
    server.revoked.add('tok-3');
    await expect(coffer.getSecretValue({ secretId: 'app/db' })).rejects.toBeInstanceOf(CofferAccessDeniedError);
    expect(server.calls.slice(5).map((c) => c.token ?? 'login')).toEqual(['tok-2', 'login', 'tok-3']);
  });

  it('reports a refused login with the server reason and no credential', async () => {
    const server = stubServer({ refuseLogin: true });
    const coffer = new CofferClient({ auth: { login: approle }, fetch: server.fetch, cache: false, env: {} });
    const failure = await coffer.getSecretValue({ secretId: 'app/db' }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CofferAccessDeniedError);
    expect((failure as Error).message).toBe(
      'approle login at auth/approle failed: approle login at auth/approle (role web) refused: unknown secret id',
    );
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toMatch(/the-secret-id|the-role-id/);
    expect(server.calls.map((c) => c.path)).toEqual(['/v1/auth/approle/login']);
  });

  describe('jwt and kubernetes', () => {
    let tmp: { dir: string; cleanup: () => void };
    beforeEach(() => {
      tmp = tempDir('coffer-sdk-login-');
    });
    afterEach(() => tmp.cleanup());

    it('reads jwtFile at each login, so a rotated token is sent', async () => {
      const file = path.join(tmp.dir, 'jwt');
      writeFileSync(file, 'eyJ.first.sig\n');
      const server = stubServer();
      const coffer = new CofferClient({
        auth: { login: { method: 'kubernetes', role: 'web', jwtFile: file } },
        fetch: server.fetch,
        cache: false,
        env: {},
      });
      await coffer.getSecretValue({ secretId: 'app/db' });
      writeFileSync(file, 'eyJ.second.sig\n');
      server.revoked.add('tok-1');
      await coffer.getSecretValue({ secretId: 'app/db' });
      const logins = server.calls.filter((c) => c.path === '/v1/auth/kubernetes/login').map((c) => c.body);
      expect(logins).toEqual([
        { role: 'web', jwt: 'eyJ.first.sig' },
        { role: 'web', jwt: 'eyJ.second.sig' },
      ]);
    });

    it('refuses a jwt login without a token, and an invalid mount, before sending anything', async () => {
      const server = stubServer();
      const noJwt = new CofferClient({
        auth: { login: { method: 'jwt', role: 'deploy' } },
        fetch: server.fetch,
        cache: false,
        env: {},
      });
      await expect(noJwt.getSecretValue({ secretId: 'app/db' })).rejects.toThrow(CofferValidationError);
      const badMount = new CofferClient({
        auth: { login: { method: 'ldap', mount: '../sys', username: 'alice', password: 'pw' } },
        fetch: server.fetch,
        cache: false,
        env: {},
      });
      await expect(badMount.getSecretValue({ secretId: 'app/db' })).rejects.toThrow(/invalid auth mount "..\/sys"/);
      expect(server.calls).toEqual([]);
    });
  });
});
