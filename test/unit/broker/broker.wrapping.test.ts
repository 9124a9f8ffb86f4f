import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { Broker } from '../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { ResponseWrapping, WRAPPING_PARTITION } from '../../../lambdas/core/wrapping/response-wrapping.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/** A memory broker with response wrapping, on a clock the test moves. */
async function wrappingNode() {
  let now = Date.parse('2026-12-07T10:00:00Z');
  const clock = { now: () => now };
  const node = await memoryNode(clock);
  const store = new MemoryStore();
  const wrapping = new ResponseWrapping({ store, keyProvider: new FakeKeyProvider(), clock });
  const broker = new Broker({ ...node.deps, wrapping }, nativeRoutes(), () => {});
  const call = async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const req = request(method, path, options);
    const response = await broker.handle({ ...req, headers: { ...req.headers, ...options.headers } });
    return { status: response.status, body: response.body === '' ? undefined : JSON.parse(response.body) };
  };
  return { ...node, store, call, advance: (ms: number) => (now += ms) };
}

describe('response wrapping', () => {
  it('answers a wrapping token instead of the answer, and the token unwraps it exactly once', async () => {
    const node = await wrappingNode();
    const created = await node.call('POST', '/v1/auth/token/create', {
      token: node.rootToken,
      body: { displayName: 'ci' },
      headers: { 'x-coffer-wrap-ttl': '5m' },
    });
    expect(created.status).toBe(201);
    const info = created.body.wrap_info;
    expect(Object.keys(created.body)).toEqual(['wrap_info']);
    expect(info.token).toMatch(/^cwr\./);
    expect(info.ttl).toBe(300);
    expect(info.creation_path).toBe('auth/token/create');

    const looked = await node.call('POST', '/v1/sys/wrapping/lookup', { body: { token: info.token } });
    expect(looked).toMatchObject({ status: 200, body: { creation_ttl: 300, creation_path: 'auth/token/create' } });

    const unwrapped = await node.call('POST', '/v1/sys/wrapping/unwrap', { body: { token: info.token } });
    expect(unwrapped.status).toBe(200);
    expect(unwrapped.body.token).toMatch(/^cft_/);
    expect(unwrapped.body.displayName).toMatch(/ci/);
    // The unwrapped token works: it is the answer the creation would have given.
    const self = await node.call('GET', '/v1/auth/token/lookup-self', { token: unwrapped.body.token });
    expect(self.status).toBe(200);

    const again = await node.call('POST', '/v1/sys/wrapping/unwrap', { body: { token: info.token } });
    expect(again.status).toBe(404);
    expect(again.body.error.message).toMatch(/already unwrapped, or expired/);
    expect((await node.store.query(WRAPPING_PARTITION)).items).toHaveLength(0);
  });

  it('takes Vault’s header and seconds, and refuses an expired token alike', async () => {
    const node = await wrappingNode();
    const created = await node.call('POST', '/v1/auth/token/create', {
      token: node.rootToken,
      body: {},
      headers: { 'x-vault-wrap-ttl': '60' },
    });
    expect(created.body.wrap_info.ttl).toBe(60);
    node.advance(60_000);
    const late = await node.call('POST', '/v1/sys/wrapping/unwrap', { body: { token: created.body.wrap_info.token } });
    expect(late.status).toBe(404);
  });

  it('refuses a wrap header on an answer that holds no credential, and a bad TTL, before anything runs', async () => {
    const node = await wrappingNode();
    const policy = await node.call('PUT', '/v1/sys/policies/readers', {
      token: node.rootToken,
      body: { rules: [] },
      headers: { 'x-coffer-wrap-ttl': '5m' },
    });
    expect(policy.status).toBe(400);
    expect(policy.body.error.message).toMatch(/cannot be response-wrapped/);
    expect((await node.call('GET', '/v1/sys/policies/readers', { token: node.rootToken })).status).toBe(404);

    for (const ttl of ['0', '2d', 'soon']) {
      const bad = await node.call('POST', '/v1/auth/token/create', {
        token: node.rootToken,
        body: {},
        headers: { 'x-coffer-wrap-ttl': ttl },
      });
      expect(bad.status, ttl).toBe(400);
    }
    expect((await node.store.query(WRAPPING_PARTITION)).items).toHaveLength(0);
  });

  it('audits the wrapping token and the unwrapped answer only as HMACs and sizes', async () => {
    const node = await wrappingNode();
    const created = await node.call('POST', '/v1/auth/token/create', {
      token: node.rootToken,
      body: {},
      headers: { 'x-coffer-wrap-ttl': '5m' },
    });
    const wrappingToken: string = created.body.wrap_info.token;
    const unwrapped = await node.call('POST', '/v1/sys/wrapping/unwrap', { body: { token: wrappingToken } });
    const log = node.sink.lines.join('\n');
    expect(log).not.toContain(wrappingToken);
    expect(log).not.toContain(unwrapped.body.token);
    expect(log).toContain('"operation":"wrapping.unwrap"');
    expect(log).toMatch(/"omitted":true/);
  });

  it('needs no other token to unwrap, and says what a wrapping token looks like', async () => {
    const node = await wrappingNode();
    const wrong = await node.call('POST', '/v1/sys/wrapping/unwrap', { body: { token: node.rootToken } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/not a wrapping token/);
    expect(JSON.stringify(wrong.body)).not.toContain(node.rootToken);
  });
});
