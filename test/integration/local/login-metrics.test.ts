import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialise, type LocalNode, openLocalNode } from '../../../lambdas/entrypoints/local/compose.ts';
import { loadLocalConfig } from '../../../lambdas/entrypoints/local/config.ts';
import { request } from '../../support/memory-node.ts';

/**
 * Issue 12, login hygiene on the local node: its composition counts every login by method and mount, and
 * `GET /v1/sys/metrics` shows the counts to a caller allowed `read` on `sys/metrics`, and to no one else.
 */
describe('Local node: login metrics', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-login-metrics-'));
  let node: LocalNode | undefined;
  afterAll(async () => {
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts logins by method and mount, readable with sys/metrics read', async () => {
    const config = loadLocalConfig({}, { dataDir: dir });
    const { rootToken } = await initialise(config);
    node = await openLocalNode(config);
    const { broker } = node;
    const call = async (method: string, url: string, options: Parameters<typeof request>[2] = {}) => {
      const res = await broker.handle(request(method, url, options));
      return { status: res.status, body: res.body === '' ? undefined : JSON.parse(res.body) };
    };
    const root = (method: string, url: string, body?: unknown) => call(method, url, { token: rootToken, body });
    await root('PUT', '/v1/sys/policies/metrics', { rules: [{ path: 'sys/metrics', capabilities: ['read'] }] });
    await root('POST', '/v1/sys/auth/ci', { type: 'approle' });
    await root('PUT', '/v1/auth/ci/role/web', { token_policies: ['metrics'] });
    const roleId = (await root('GET', '/v1/auth/ci/role/web/role-id')).body.role_id as string;
    const secretId = (await root('POST', '/v1/auth/ci/role/web/secret-id', {})).body.secret_id as string;

    const ok = await call('POST', '/v1/auth/ci/login', { body: { role_id: roleId, secret_id: secretId } });
    expect(ok.status).toBe(200);
    for (const wrong of ['a', 'b']) {
      const refused = await call('POST', '/v1/auth/ci/login', { body: { role_id: roleId, secret_id: wrong } });
      expect(refused.status).toBe(403);
    }
    // Not mounted: neither a login nor a counter.
    expect((await call('POST', '/v1/auth/nowhere/login', { body: { role_id: 'r', secret_id: 's' } })).status).toBe(400);

    const metrics = await call('GET', '/v1/sys/metrics', { token: ok.body.auth.client_token });
    expect(metrics.status).toBe(200);
    expect(metrics.body.logins).toEqual([{ method: 'approle', mount: 'ci', succeeded: 1, failed: 2 }]);
    expect(Date.parse(metrics.body.since)).toBeLessThanOrEqual(Date.now());

    const stranger = (await root('POST', '/v1/auth/token/create', { policies: [] })).body.token as string;
    expect((await call('GET', '/v1/sys/metrics', { token: stranger })).status).toBe(403);
  });
});
