import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { AuthMountService } from '../../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../../../lambdas/core/auth/methods/registry.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

async function authNode() {
  const node = await memoryNode();
  const { store, deps } = node;
  const authMounts = new AuthMountService({
    store,
    clock: deps.clock,
    methods: buildAuthMethods({ store, clock: deps.clock }),
    tokens: deps.tokens,
  });
  const broker = new Broker({ ...deps, authMounts }, nativeRoutes(), () => {});
  const call = async (method: string, path: string, options: Parameters<typeof request>[2] = {}) => {
    const res = await broker.handle(request(method, path, options));
    return {
      status: res.status,
      body: res.body.length === 0 ? undefined : JSON.parse(res.body),
      requestId: res.headers['x-request-id'],
    };
  };
  const root = (method: string, path: string, body?: unknown) => call(method, path, { token: node.rootToken, body });
  await root('PUT', '/v1/sys/policies/app-read', { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] });
  await root('PUT', '/v1/secret/data/app/db', { value: 'the-app-password' });
  await root('PUT', '/v1/secret/data/other/db', { value: 'the-other-password' });
  expect((await root('POST', '/v1/sys/auth/approle', { type: 'approle' })).status).toBe(201);
  expect(
    (await root('PUT', '/v1/auth/approle/role/web', { token_policies: ['app-read'], secret_id_num_uses: 1 })).status,
  ).toBe(200);
  const roleId = (await root('GET', '/v1/auth/approle/role/web/role-id')).body.role_id as string;
  const secret = (await root('POST', '/v1/auth/approle/role/web/secret-id', {})).body as {
    secret_id: string;
    secret_id_accessor: string;
  };
  const records = (requestId: string) => node.sink.records().filter((r) => r.requestId === requestId);
  return { ...node, call, root, roleId, secret, records };
}

describe('Routes: auth methods', () => {
  it('lists the login mounts without a token, path and method only, for sign-in pages', async () => {
    const { call, root } = await authNode();
    await root('PUT', '/v1/auth/approle/config', {});
    const listed = await call('GET', '/v1/sys/login-methods');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ methods: [{ path: 'approle', type: 'approle' }] });
  });

  it('logs in without a token, in Vault shape, for a token that reads what the role allows and nothing else', async () => {
    const { call, roleId, secret, records, sink } = await authNode();
    const login = await call('POST', '/v1/auth/approle/login', {
      body: { role_id: roleId, secret_id: secret.secret_id },
    });
    expect(login.status).toBe(200);
    expect(login.body.auth).toMatchObject({
      policies: ['app-read'],
      token_policies: ['app-read'],
      metadata: { role_name: 'web' },
      renewable: true,
      mount_type: 'approle',
      mount_path: 'approle',
      role_name: 'web',
    });
    const token = login.body.auth.client_token as string;
    expect((await call('GET', '/v1/secret/data/app/db', { token })).status).toBe(200);
    expect((await call('GET', '/v1/secret/data/other/db', { token })).status).toBe(403);

    // Audited with the mount and role; the role id, secret id and token only as HMACs.
    const audited = records(login.requestId!);
    expect(audited.map((r) => r.type)).toEqual(['request', 'response']);
    expect(audited[0]).toMatchObject({
      operation: 'auth.login',
      path: 'auth/approle/login',
      request: { role_id: expect.stringMatching(/^hmac-sha256:/), secret_id: expect.stringMatching(/^hmac-sha256:/) },
    });
    expect(audited[1]?.response).toMatchObject({
      auth: { mount_type: 'approle', mount_path: 'approle', role_name: 'web' },
    });
    const log = JSON.stringify(sink.records());
    for (const credential of [roleId, secret.secret_id, token]) expect(log).not.toContain(credential);
  });

  it('refuses a login body key no method takes before auditing it, so a misspelt credential is never logged', async () => {
    // Found by the malformed-input soak campaign: `secret_id` with a lone surrogate appended was not redacted (the
    // audit redacts by key) and reached the audit log with the secret id in clear.
    const { call, roleId, secret, sink } = await authNode();
    for (const key of ['secret_id\ud800', 'secret_id ', 'Secret_Id', 'secretId']) {
      const res = await call('POST', '/v1/auth/approle/login', { body: { role_id: roleId, [key]: secret.secret_id } });
      expect(res.status).toBe(400);
    }
    expect(JSON.stringify(sink.records())).not.toContain(secret.secret_id);
  });

  it('audits a refused login with method, mount, role and reason, and answers wrong role and secret ids alike', async () => {
    const { call, roleId, secret, records, sink } = await authNode();
    const wrongSecret = await call('POST', '/v1/auth/approle/login', {
      body: { role_id: roleId, secret_id: 'not-the-secret' },
    });
    const wrongRole = await call('POST', '/v1/auth/approle/login', {
      body: { role_id: 'not-the-role', secret_id: secret.secret_id },
    });
    expect(wrongSecret.status).toBe(403);
    expect(wrongRole.status).toBe(403);
    expect(wrongSecret.body.error.message).toBe(wrongRole.body.error.message);
    expect(wrongSecret.body.error.message).toMatch(/invalid role id or secret id/);
    expect(records(wrongSecret.requestId!).at(-1)).toMatchObject({
      outcome: 'denied',
      status: 403,
      denied: {
        path: 'auth/approle/login',
        capability: 'update',
        reason: 'approle login at auth/approle (role web) refused: unknown secret id',
      },
    });
    expect(records(wrongRole.requestId!).at(-1)?.denied?.reason).toBe(
      'approle login at auth/approle refused: unknown role id',
    );
    // The one-use secret id still works once, then is spent.
    const ok = await call('POST', '/v1/auth/approle/login', { body: { role_id: roleId, secret_id: secret.secret_id } });
    expect(ok.status).toBe(200);
    const spent = await call('POST', '/v1/auth/approle/login', {
      body: { role_id: roleId, secret_id: secret.secret_id },
    });
    expect(spent.status).toBe(403);
    expect(JSON.stringify(sink.records())).not.toContain(secret.secret_id);
  });

  it('answers a missing mount with 400 and a malformed login without echoing values', async () => {
    const { call } = await authNode();
    const missing = await call('POST', '/v1/auth/nowhere/login', { body: { role_id: 'r', secret_id: 's' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe('no auth method is mounted at nowhere');
    const malformed = await call('POST', '/v1/auth/approle/login', {
      body: { role_id: 'r', secret_id: 'hunter2', extra: 'x' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).not.toContain('hunter2');
    const reserved = await call('POST', '/v1/auth/token/login', { body: {} });
    expect(reserved.status).toBe(400);
  });

  it('lists, reads and disables mounts; disabling revokes the tokens its logins issued', async () => {
    const { call, root, roleId, secret } = await authNode();
    expect((await root('POST', '/v1/sys/auth/approle', { type: 'approle' })).status).toBe(409);
    expect((await root('POST', '/v1/sys/auth/second', { type: 'approle', description: 'again' })).status).toBe(201);
    const list = await root('GET', '/v1/sys/auth');
    expect(list.body.mounts.map((m: { path: string; type: string }) => `${m.path}:${m.type}`)).toEqual([
      'approle:approle',
      'second:approle',
    ]);
    const login = await call('POST', '/v1/auth/approle/login', {
      body: { role_id: roleId, secret_id: secret.secret_id },
    });
    const token = login.body.auth.client_token as string;
    expect(await root('DELETE', '/v1/sys/auth/approle')).toMatchObject({
      status: 200,
      body: { path: 'approle', revokedTokens: 1 },
    });
    expect((await call('GET', '/v1/auth/token/lookup-self', { token })).status).toBe(401);
  });

  it('refuses a role granting a policy that does not exist, or one its writer lacks', async () => {
    const { root, call } = await authNode();
    const ghost = await root('PUT', '/v1/auth/approle/role/x', { token_policies: ['ghost'] });
    expect(ghost.status).toBe(400);
    expect(ghost.body.error.message).toMatch(/policy "ghost" does not exist/);
    await root('PUT', '/v1/sys/policies/role-writer', {
      rules: [{ path: 'auth/approle/role/*', capabilities: ['update'] }],
    });
    const writer = (await root('POST', '/v1/auth/token/create', { policies: ['role-writer'] })).body.token as string;
    const escalate = await call('PUT', '/v1/auth/approle/role/y', {
      token: writer,
      body: { token_policies: ['app-read'] },
    });
    expect(escalate.status).toBe(403);
    expect(escalate.body.error.message).toMatch(/a role cannot have policies its creator lacks: app-read/);
  });

  it('answers secret id lookups and destroys, never with the secret id', async () => {
    const { root, secret, roleId, call } = await authNode();
    const looked = await root('POST', '/v1/auth/approle/role/web/secret-id/lookup', { secret_id: secret.secret_id });
    expect(looked.body).toMatchObject({ secret_id_accessor: secret.secret_id_accessor, secret_id_num_uses: 1 });
    expect(JSON.stringify(looked.body)).not.toContain(secret.secret_id);
    const destroyed = await root('POST', '/v1/auth/approle/role/web/secret-id-accessor/destroy', {
      secret_id_accessor: secret.secret_id_accessor,
    });
    expect(destroyed.status).toBe(204);
    expect(
      (await call('POST', '/v1/auth/approle/login', { body: { role_id: roleId, secret_id: secret.secret_id } })).status,
    ).toBe(403);
    expect((await root('GET', '/v1/auth/approle/role')).body).toEqual({ roles: ['web'] });
    expect((await root('DELETE', '/v1/auth/approle/role/web')).status).toBe(204);
    expect((await root('GET', '/v1/auth/approle/role/web')).status).toBe(404);
  });
});
