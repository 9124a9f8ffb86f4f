import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { IamPrincipalService } from '../../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

const ROLE = 'arn:aws:iam::123456789012:role/app-web';
const SESSION = 'arn:aws:sts::123456789012:assumed-role/app-web/i-0abc';

async function iamNode() {
  const node = await memoryNode();
  const iamPrincipals = new IamPrincipalService({ store: node.store, clock: node.deps.clock, cacheTtlMs: 0 });
  const deps = { ...node.deps, iamPrincipals, resolveIamPrincipal: (arn: string) => iamPrincipals.resolve(arn) };
  const broker = new Broker(deps, nativeRoutes(), () => {});
  const asIam = (method: string, path: string, arn: string, body?: unknown) =>
    broker.handle({ ...request(method, path, { body }), iamArn: arn });
  return { ...node, broker, asIam };
}

describe('IAM caller mappings through the API', () => {
  it('maps a role to policies, which its sessions then hold; unmapping takes them away', async () => {
    const { broker, rootToken, asIam } = await iamNode();
    await broker.handle(
      request('PUT', '/v1/sys/policies/app-read', {
        token: rootToken,
        body: { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] },
      }),
    );
    await broker.handle(request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'v' } }));
    expect((await asIam('GET', '/v1/secret/data/app/db', SESSION)).status).toBe(401);

    const put = await broker.handle(
      request('PUT', '/v1/auth/iam/mappings', { token: rootToken, body: { pattern: ROLE, policies: ['app-read'] } }),
    );
    expect(put.status).toBe(200);
    expect((await asIam('GET', '/v1/secret/data/app/db', SESSION)).status).toBe(200);
    expect((await asIam('GET', '/v1/secret/data/other', SESSION)).status).toBe(403);

    const list = await broker.handle(request('GET', '/v1/auth/iam/mappings', { token: rootToken }));
    expect(JSON.parse(list.body)).toEqual({ mappings: [{ pattern: ROLE, policies: ['app-read'] }] });

    const removed = await broker.handle(
      request('DELETE', '/v1/auth/iam/mappings', { token: rootToken, query: { pattern: ROLE } }),
    );
    expect(removed.status).toBe(204);
    expect((await asIam('GET', '/v1/secret/data/app/db', SESSION)).status).toBe(401);
  });

  it('needs sudo to change mappings, so a mapped caller cannot grant itself more', async () => {
    const { broker, rootToken, asIam } = await iamNode();
    await broker.handle(
      request('PUT', '/v1/sys/policies/app-read', {
        token: rootToken,
        body: { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] },
      }),
    );
    await broker.handle(
      request('PUT', '/v1/auth/iam/mappings', { token: rootToken, body: { pattern: ROLE, policies: ['app-read'] } }),
    );
    const escalate = await asIam('PUT', '/v1/auth/iam/mappings', SESSION, { pattern: ROLE, policies: ['root'] });
    expect(escalate.status).toBe(403);
    const bad = await broker.handle(
      request('PUT', '/v1/auth/iam/mappings', { token: rootToken, body: { pattern: 'not-an-arn', policies: ['x'] } }),
    );
    expect(bad.status).toBe(400);
  });

  it('refuses to map a policy that does not exist, naming it, and maps nothing', async () => {
    const { broker, rootToken } = await iamNode();
    const put = await broker.handle(
      request('PUT', '/v1/auth/iam/mappings', {
        token: rootToken,
        body: { pattern: ROLE, policies: ['root', 'ci-read'] },
      }),
    );
    expect(put.status).toBe(400);
    expect(JSON.parse(put.body).error.message).toBe(
      'an IAM mapping cannot name a policy that does not exist: policy "ci-read" does not exist (create it first)',
    );
    const list = await broker.handle(request('GET', '/v1/auth/iam/mappings', { token: rootToken }));
    expect(JSON.parse(list.body)).toEqual({ mappings: [] });
  });

  it('says so where IAM callers are not accepted (the local node)', async () => {
    const { broker, rootToken } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/auth/iam/mappings', { token: rootToken }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.message).toMatch(
      /mapping IAM callers to principals is not enabled on this runtime/,
    );
  });
});
