import { describe, expect, it } from 'vitest';
import { Broker } from '../../../lambdas/broker/broker.ts';
import type { LoginAttempt } from '../../../lambdas/broker/broker-deps.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { AuthMountService } from '../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../../lambdas/core/auth/methods/registry.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/** A memory node with an AppRole mount `ci` (role `web`), counting logins as the runtimes' metrics do. */
async function loginNode() {
  const node = await memoryNode();
  const { store, deps } = node;
  const attempts: LoginAttempt[] = [];
  const authMounts = new AuthMountService({
    store,
    clock: deps.clock,
    methods: buildAuthMethods({ store, clock: deps.clock }),
    tokens: deps.tokens,
  });
  const broker = new Broker(
    { ...deps, authMounts, onLogin: (attempt) => attempts.push(attempt) },
    nativeRoutes(),
    () => {},
  );
  const call = async (method: string, path: string, options: Parameters<typeof request>[2] = {}) => {
    const res = await broker.handle(request(method, path, options));
    const response = node.sink
      .records()
      .find((r) => r.type === 'response' && r.requestId === res.headers['x-request-id']);
    return { status: res.status, response };
  };
  const root = async (method: string, path: string, body?: unknown) => {
    const res = await broker.handle(request(method, path, { token: node.rootToken, body }));
    return JSON.parse(res.body || '{}');
  };
  await root('PUT', '/v1/sys/policies/app-read', { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] });
  await root('POST', '/v1/sys/auth/ci', { type: 'approle' });
  await root('PUT', '/v1/auth/ci/role/web', { token_policies: ['app-read'] });
  const roleId = (await root('GET', '/v1/auth/ci/role/web/role-id')).role_id as string;
  const secretId = (await root('POST', '/v1/auth/ci/role/web/secret-id', {})).secret_id as string;
  attempts.length = 0;
  return { ...node, call, attempts, roleId, secretId };
}

describe('Broker: every login is audited with method, mount and role, and counted', () => {
  it('records a success with the role and the HMAC of who logged in, and counts it by method and mount', async () => {
    const { call, attempts, roleId, secretId, deps, sink } = await loginNode();
    const login = await call('POST', '/v1/auth/ci/login', { body: { role_id: roleId, secret_id: secretId } });
    expect(login.status).toBe(200);
    expect(login.response).toMatchObject({ outcome: 'ok', operation: 'auth.login', path: 'auth/ci/login' });
    // The alias of an AppRole login is its role id: half a credential, so only its HMAC, the same on every login.
    expect(login.response?.login).toEqual({
      method: 'approle',
      mount: 'ci',
      role: 'web',
      alias: deps.audit.hmac(roleId),
    });
    expect(attempts).toEqual([{ method: 'approle', mount: 'ci', succeeded: true }]);
    const log = JSON.stringify(sink.records());
    for (const credential of [roleId, secretId]) expect(log).not.toContain(credential);
  });

  it('records a refusal with method, mount and the role once the credential named one, and counts it', async () => {
    const { call, attempts, roleId, secretId } = await loginNode();
    const wrongSecret = await call('POST', '/v1/auth/ci/login', { body: { role_id: roleId, secret_id: 'wrong' } });
    const wrongRole = await call('POST', '/v1/auth/ci/login', { body: { role_id: 'wrong', secret_id: secretId } });
    expect([wrongSecret.status, wrongRole.status]).toEqual([403, 403]);
    expect(wrongSecret.response).toMatchObject({
      outcome: 'denied',
      login: { method: 'approle', mount: 'ci', role: 'web' },
    });
    expect(wrongSecret.response?.login).not.toHaveProperty('alias');
    expect(wrongRole.response?.login).toEqual({ method: 'approle', mount: 'ci' });
    expect(attempts).toEqual([
      { method: 'approle', mount: 'ci', succeeded: false },
      { method: 'approle', mount: 'ci', succeeded: false },
    ]);
  });

  it('neither records nor counts a login at a path where nothing is mounted (a caller-chosen name)', async () => {
    const { call, attempts } = await loginNode();
    const nowhere = await call('POST', '/v1/auth/made-up/login', { body: { role_id: 'r', secret_id: 's' } });
    expect(nowhere.status).toBe(400);
    expect(nowhere.response).toBeDefined();
    expect(nowhere.response).not.toHaveProperty('login');
    expect(attempts).toEqual([]);
  });

  it('leaves the login field off every other operation', async () => {
    const { sink, call, roleId, secretId } = await loginNode();
    await call('POST', '/v1/auth/ci/login', { body: { role_id: roleId, secret_id: secretId } });
    const others = sink.records().filter((r) => r.operation !== 'auth.login');
    expect(others.length).toBeGreaterThan(0);
    for (const record of others) expect(record).not.toHaveProperty('login');
  });
});
