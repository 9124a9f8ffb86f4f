import { describe, expect, it } from 'vitest';
import { memoryNode, request } from '../../../support/memory-node.ts';

describe('Route: POST /v1/auth/token/create, policies that do not exist', () => {
  it('refuses a child token naming a policy that does not exist, naming it', async () => {
    const { broker, rootToken, sink } = await memoryNode();
    const res = await broker.handle(
      request('POST', '/v1/auth/token/create', { token: rootToken, body: { policies: ['ci-read'] } }),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.message).toBe(
      'a token cannot name a policy that does not exist: policy "ci-read" does not exist (create it first)',
    );
    const record = sink.records().findLast((r) => r.operation === 'token.create' && r.type === 'response');
    expect(record).toMatchObject({ outcome: 'error', status: 400 });
  });

  it('creates it once the policy exists; omitted policies are the parent’s, which are not looked up', async () => {
    const { broker, rootToken, deps } = await memoryNode();
    await deps.policies.put({ name: 'ci-read', rules: [{ path: 'secrets/ci/*', capabilities: ['read'] }] });
    const named = await broker.handle(
      request('POST', '/v1/auth/token/create', { token: rootToken, body: { policies: ['ci-read', 'root'] } }),
    );
    expect(named.status).toBe(201);
    const inherited = await broker.handle(request('POST', '/v1/auth/token/create', { token: rootToken, body: {} }));
    expect(inherited.status).toBe(201);
  });

  it('refuses a parent’s policy that was deleted since', async () => {
    const { broker, rootToken, deps } = await memoryNode();
    await deps.policies.put({ name: 'minter', rules: [{ path: 'auth/token/create', capabilities: ['create'] }] });
    await deps.policies.put({ name: 'gone', rules: [{ path: 'secrets/gone/*', capabilities: ['read'] }] });
    const root = await deps.tokens.lookup({ token: rootToken });
    const { token } = await deps.tokens.create(root, { policies: ['minter', 'gone'] });
    await deps.policies.delete('gone');
    const res = await broker.handle(
      request('POST', '/v1/auth/token/create', { token, body: { policies: ['minter', 'gone'] } }),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.message).toContain('policy "gone" does not exist');
  });
});
