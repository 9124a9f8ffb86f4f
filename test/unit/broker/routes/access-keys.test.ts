import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { AccessKeyService } from '../../../../lambdas/core/auth/sigv4/access-key-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

/** A broker with Coffer access keys, as the local node composes it. */
async function keyNode() {
  const node = await memoryNode();
  const accessKeys = new AccessKeyService({
    store: node.store,
    keyProvider: new FakeKeyProvider(),
    clock: node.deps.clock,
    cacheTtlMs: 0,
  });
  const broker = new Broker({ ...node.deps, accessKeys }, nativeRoutes(), () => {});
  const call = async (method: string, path: string, body?: unknown, token = node.rootToken) => {
    const res = await broker.handle(request(method, path, { token, body }));
    return { status: res.status, body: JSON.parse(res.body || '{}') as Record<string, unknown> };
  };
  return { ...node, accessKeys, call };
}

const message = (body: Record<string, unknown>) => (body.error as { message: string }).message;

describe('Route: POST /v1/sys/access-keys, policies that do not exist', () => {
  it('refuses a key naming a policy that does not exist, naming it, and creates no key', async () => {
    const { call, accessKeys } = await keyNode();
    const created = await call('POST', '/v1/sys/access-keys', { principal: 'ci', policies: ['ci-read'] });
    expect(created.status).toBe(400);
    expect(message(created.body)).toBe(
      'an access key cannot name a policy that does not exist: policy "ci-read" does not exist (create it first)',
    );
    expect(await accessKeys.list()).toEqual([]);
  });

  it('refuses an imported pair alike, without echoing its secret', async () => {
    const { call, accessKeys } = await keyNode();
    const secretAccessKey = 'imported-secret-never-echoed-0123456789';
    const imported = await call('POST', '/v1/sys/access-keys', {
      principal: 'localstack',
      policies: ['nope-a', 'nope-b'],
      accessKeyId: 'test',
      secretAccessKey,
    });
    expect(imported.status).toBe(400);
    expect(message(imported.body)).toContain('policies "nope-a", "nope-b" do not exist');
    expect(JSON.stringify(imported.body)).not.toContain(secretAccessKey);
    expect(await accessKeys.list()).toEqual([]);
  });

  it('creates the key once the policy exists, and with the built-in root', async () => {
    const { call, deps } = await keyNode();
    await deps.policies.put({ name: 'ci-read', rules: [{ path: 'secrets/ci/*', capabilities: ['read'] }] });
    const created = await call('POST', '/v1/sys/access-keys', { principal: 'ci', policies: ['ci-read', 'root'] });
    expect(created.status).toBe(201);
    expect(created.body.policies).toEqual(['ci-read', 'root']);
  });

  it('answers a non-root caller naming a policy it lacks with the same 403 whether or not it exists', async () => {
    const { call, deps, rootToken } = await keyNode();
    await deps.policies.put({ name: 'keys', rules: [{ path: 'sys/access-keys', capabilities: ['sudo'] }] });
    await deps.policies.put({ name: 'exists', rules: [{ path: 'secrets/x/*', capabilities: ['read'] }] });
    const root = await deps.tokens.lookup({ token: rootToken });
    const { token } = await deps.tokens.create(root, { policies: ['keys'] });
    const ask = (policy: string) => call('POST', '/v1/sys/access-keys', { policies: ['keys', policy] }, token);
    const existing = await ask('exists');
    const missing = await ask('missing');
    expect(existing.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(message(missing.body).replace('missing', 'exists')).toBe(message(existing.body));
  });
});
