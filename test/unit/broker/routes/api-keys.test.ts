import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { ApiKeyRegistry } from '../../../../lambdas/engines/rotation/api-key/index.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

const SECRET = 'svc/billing/api-key';

/** A broker on in-memory adapters with Coffer-managed API keys enabled. */
async function apiKeyNode() {
  const node = await memoryNode();
  const apiKeys = new ApiKeyRegistry({ store: node.store, clock: node.deps.clock });
  const broker = new Broker({ ...node.deps, apiKeys }, nativeRoutes(), () => {});
  const tokenWith = async (rules: { path: string; capabilities: string[] }[]) => {
    await node.deps.policies.put({ name: 'svc', rules });
    const root = await node.deps.tokens.lookup({ token: node.rootToken });
    return (await node.deps.tokens.create(root, { policies: ['svc'] })).token;
  };
  const validate = (token: string, body: unknown) =>
    broker.handle(request('POST', '/v1/apikeys/validate', { token, body }));
  return { ...node, broker, apiKeys, tokenWith, validate };
}

describe('POST /v1/apikeys/validate', () => {
  it('answers valid with key id, owning secret and scopes for an active key, and only valid:false otherwise', async () => {
    const { apiKeys, rootToken, validate } = await apiKeyNode();
    const { keyId, apiKey } = await apiKeys.register({ secretName: SECRET, scopes: ['billing:read'] });

    const ok = await validate(rootToken, { key: apiKey });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ valid: true, keyId, secret: SECRET, scopes: ['billing:read'] });

    const tampered = await validate(rootToken, { key: `${apiKey.slice(0, -1)}${apiKey.endsWith('a') ? 'b' : 'a'}` });
    expect(tampered.status).toBe(200);
    expect(JSON.parse(tampered.body)).toEqual({ valid: false });

    await apiKeys.revoke(keyId);
    expect(JSON.parse((await validate(rootToken, { key: apiKey })).body)).toEqual({ valid: false });
  });

  it('needs read on sys/apikeys/validate', async () => {
    const { apiKeys, tokenWith, validate } = await apiKeyNode();
    const { apiKey } = await apiKeys.register({ secretName: SECRET });
    const allowed = await tokenWith([{ path: 'sys/apikeys/validate', capabilities: ['read'] }]);
    expect((await validate(allowed, { key: apiKey })).status).toBe(200);

    const denied = await tokenWith([{ path: 'secrets/*', capabilities: ['read'] }]);
    const res = await validate(denied, { key: apiKey });
    expect(res.status).toBe(403);
    expect(res.body).not.toContain(apiKey);
  });

  it('refuses a caller without a token', async () => {
    const { broker } = await apiKeyNode();
    const res = await broker.handle(request('POST', '/v1/apikeys/validate', { body: { key: 'cfk_x' } }));
    expect(res.status).toBe(401);
  });

  it('HMACs the presented key in the audit log', async () => {
    const { apiKeys, rootToken, sink, validate } = await apiKeyNode();
    const { apiKey } = await apiKeys.register({ secretName: SECRET });
    await validate(rootToken, { key: apiKey });
    await validate(rootToken, { key: 'cfk_not-a-real-key' });
    const log = sink.lines.join('\n');
    expect(log).toContain('apikey.validate');
    expect(log).not.toContain(apiKey);
    expect(log).not.toContain('cfk_not-a-real-key');
    const requests = sink.records().filter((r) => r.type === 'request' && r.operation === 'apikey.validate');
    expect(requests).toHaveLength(2);
    expect(String((requests[0]!.request as { key: string }).key)).toMatch(/^hmac-sha256:/);
  });

  it('rejects a malformed body', async () => {
    const { rootToken, validate } = await apiKeyNode();
    expect((await validate(rootToken, {})).status).toBe(400);
    expect((await validate(rootToken, { key: 'x', extra: 1 })).status).toBe(400);
  });

  it('answers invalid_request where API keys are not enabled', async () => {
    const { broker, rootToken } = await memoryNode();
    const res = await broker.handle(request('POST', '/v1/apikeys/validate', { token: rootToken, body: { key: 'k' } }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('invalid_request');
  });
});
