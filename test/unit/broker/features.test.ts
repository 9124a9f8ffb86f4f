import { describe, expect, it } from 'vitest';
import { Broker } from '../../../lambdas/broker/broker.ts';
import { FEATURES, featureNotEnabled, requireService, requireSystem } from '../../../lambdas/broker/features.ts';
import { defineRoute, type RouteDef } from '../../../lambdas/broker/route.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { FeatureNotEnabledError } from '../../../lambdas/core/errors.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

describe('Optional features', () => {
  it('answers one "not enabled" error, after the route policy check, and never runs the handler', async () => {
    const { deps, rootToken, tokens } = await nodeWithLimitedToken();
    let ran = false;
    const routes: RouteDef[] = [
      defineRoute({
        operation: 'test.pki',
        method: 'GET',
        path: '/v1/test/pki',
        summary: 'a route of the PKI engine',
        mutating: false,
        feature: 'pki',
        access: () => ({ path: 'pki/test', capability: 'read' }),
        async handle() {
          ran = true;
          return { body: {} };
        },
      }),
    ];
    const broker = new Broker(deps, routes, () => {});
    const allowed = await broker.handle(request('GET', '/v1/test/pki', { token: rootToken }));
    expect(allowed.status).toBe(400);
    expect(JSON.parse(allowed.body).error).toMatchObject({
      code: 'invalid_request',
      message: 'the PKI engine is not enabled on this runtime',
    });
    // A caller the policy refuses learns nothing about what the runtime offers.
    const refused = await broker.handle(request('GET', '/v1/test/pki', { token: tokens.narrow }));
    expect(refused.status).toBe(403);
    expect(ran).toBe(false);
  });

  it('marks every engine route of the native API with its feature', () => {
    const engines: Record<string, string> = {
      '/v1/pki/': 'pki',
      '/v1/database/': 'database',
      '/v1/aws/creds': 'aws',
      '/v1/aws/roles': 'aws',
      '/v1/leases': 'leases',
      '/v1/rotation/': 'rotation',
      '/v1/access-keys': 'accessKeys',
    };
    const unmarked = nativeRoutes().filter((route) => {
      const prefix = Object.keys(engines).find((p) => route.path.startsWith(p));
      return prefix !== undefined && ![route.feature].flat().includes(engines[prefix] as never);
    });
    expect(unmarked.map((route) => `${route.method} ${route.path}`)).toEqual([]);
  });

  it('gives the service or the typed error', async () => {
    const { deps } = await memoryNode();
    expect(() => requireService(deps, 'rotation')).toThrow(FeatureNotEnabledError);
    expect(() => requireSystem(deps, 'rootKeyRotation')).toThrow(/rotating the root key through the API/);
    const error = featureNotEnabled(deps, 'leases');
    expect(error).toMatchObject({ code: 'invalid_request', details: { feature: 'leases', runtime: 'local' } });
    expect(error.message).toBe(`${FEATURES.leases} is not enabled on this runtime`);
  });
});

async function nodeWithLimitedToken() {
  const node = await memoryNode();
  await node.deps.policies.put({ name: 'nothing', rules: [{ path: 'secrets/none', capabilities: ['read'] }] });
  const root = await node.deps.tokens.lookup({ token: node.rootToken });
  const { token } = await node.deps.tokens.create(root, { policies: ['nothing'] });
  return { ...node, tokens: { narrow: token } };
}
