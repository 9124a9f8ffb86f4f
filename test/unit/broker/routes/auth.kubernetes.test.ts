import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { NO_TOKEN_REVIEW } from '../../../../lambdas/core/auth/kubernetes/kubernetes-method.ts';
import { AUTH_MOUNT_PARTITIONS, AuthMountService } from '../../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../../../lambdas/core/auth/methods/registry.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';
import { makeKey } from '../../core/auth/jwt/jwt-test-issuer.ts';
import { CLUSTER_ISSUER, projectedClaims } from '../../core/auth/kubernetes/kubernetes-test-tokens.ts';

const REVIEWER = 'eyJhbGciOiJSUzI1NiJ9.reviewer-token.c2ln';

/** A node without a TokenReview client, as the broker Lambda is composed. */
async function kubernetesNode() {
  const node = await memoryNode();
  const { store, deps } = node;
  const keyProvider = new FakeKeyProvider();
  const authMounts = new AuthMountService({
    store,
    clock: deps.clock,
    methods: buildAuthMethods({ store, clock: deps.clock }),
    tokens: deps.tokens,
    keyProvider,
  });
  const broker = new Broker({ ...deps, authMounts }, nativeRoutes(), () => {});
  const call = async (method: string, path: string, options: Parameters<typeof request>[2] = {}) => {
    const res = await broker.handle(request(method, path, options));
    return { status: res.status, body: JSON.parse(res.body || 'null'), requestId: res.headers['x-request-id'] };
  };
  const root = (method: string, path: string, body?: unknown) => call(method, path, { token: node.rootToken, body });
  await root('PUT', '/v1/sys/policies/shop-web', { rules: [{ path: 'secrets/shop/*', capabilities: ['read'] }] });
  const records = (requestId: string) => node.sink.records().filter((r) => r.requestId === requestId);
  return { ...node, call, root, records, authMounts, keyProvider };
}

const role = {
  bound_service_account_names: ['web'],
  bound_service_account_namespaces: ['shop'],
  token_policies: ['shop-web'],
};

describe('Routes: the Kubernetes auth method', () => {
  it('never shows the reviewer token back, and audits it only as an HMAC', async () => {
    const { root, sink } = await kubernetesNode();
    const enabled = await root('POST', '/v1/sys/auth/kubernetes', {
      type: 'kubernetes',
      config: { kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt: REVIEWER },
    });
    expect(enabled.status).toBe(201);
    expect(enabled.body.config).toEqual({ kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt_set: true });
    const listed = await root('GET', '/v1/sys/auth');
    expect(listed.body.mounts[0].config).toEqual({
      kubernetes_host: 'https://10.96.0.1',
      token_reviewer_jwt_set: true,
    });
    const request = sink.records().find((r) => r.requestId === enabled.requestId && r.type === 'request');
    expect(request?.request).toMatchObject({
      config: { token_reviewer_jwt: expect.stringMatching(/^hmac-sha256:/) },
    });
    expect(JSON.stringify(sink.records())).not.toContain('reviewer-token');
  });

  it('keeps the reviewer token sealed at rest, hands it to logins alone, and re-wraps it on root-key rotation', async () => {
    const { root, store, authMounts, keyProvider } = await kubernetesNode();
    await root('POST', '/v1/sys/auth/kubernetes', {
      type: 'kubernetes',
      config: { kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt: REVIEWER },
    });
    const item = await store.get(AUTH_MOUNT_PARTITIONS.mounts, 'kubernetes');
    expect(JSON.stringify(item)).not.toContain('reviewer-token');
    expect(item?.data).toMatchObject({ sealedConfig: { fields: ['token_reviewer_jwt'] } });
    keyProvider.rotate();
    expect(await authMounts.rewrapAll()).toEqual({ rewrapped: 1 });
    expect(await authMounts.rewrapAll()).toEqual({ rewrapped: 0 });
  });

  it('replaces a mount config in place (auth/<mount>/config): the new reviewer sealed, roles kept, a bad one refused', async () => {
    const { root, call, store, sink } = await kubernetesNode();
    await root('POST', '/v1/sys/auth/kubernetes', {
      type: 'kubernetes',
      config: { kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt: REVIEWER },
    });
    expect((await root('PUT', '/v1/auth/kubernetes/role/web', role)).status).toBe(200);
    const rotated = 'eyJhbGciOiJSUzI1NiJ9.rotated-reviewer.c2ln';
    const configured = await root('POST', '/v1/auth/kubernetes/config', {
      kubernetes_host: 'https://10.96.0.2',
      token_reviewer_jwt: rotated,
    });
    expect(configured.status).toBe(200);
    expect(configured.body.config).toEqual({ kubernetes_host: 'https://10.96.0.2', token_reviewer_jwt_set: true });
    const stored = JSON.stringify(await store.get(AUTH_MOUNT_PARTITIONS.mounts, 'kubernetes'));
    expect(stored).not.toContain('rotated-reviewer');
    expect(stored).not.toContain('reviewer-token');
    expect(JSON.stringify(sink.records())).not.toContain('rotated-reviewer');
    expect((await root('GET', '/v1/auth/kubernetes/role/web')).status).toBe(200);
    expect((await root('GET', '/v1/auth/kubernetes/config')).body.config).toEqual(configured.body.config);

    // Without the reviewer the mount is in TokenReview mode still; a config its method refuses changes nothing.
    const bad = await root('POST', '/v1/auth/kubernetes/config', { kubernetes_host: 'https://x', issuer: 'https://i' });
    expect(bad.status).toBe(400);
    expect((await root('GET', '/v1/auth/kubernetes/config')).body.config.kubernetes_host).toBe('https://10.96.0.2');

    // The same authority as enabling: a token without update on sys/auth/kubernetes is refused.
    await root('PUT', '/v1/sys/policies/auth-reader', { rules: [{ path: 'sys/auth/*', capabilities: ['read'] }] });
    const narrow = await root('POST', '/v1/auth/token/create', { policies: ['auth-reader'] });
    const refused = await call('POST', '/v1/auth/kubernetes/config', {
      token: narrow.body.token,
      body: { kubernetes_host: 'https://evil.example' },
    });
    expect(refused.status).toBe(403);
    expect((await call('GET', '/v1/auth/kubernetes/config', { token: narrow.body.token })).status).toBe(200);
  });

  it('refuses a credential in a mount config where nothing can seal it', async () => {
    const node = await memoryNode();
    const unsealed = new AuthMountService({
      store: node.store,
      clock: node.deps.clock,
      methods: buildAuthMethods({ store: node.store, clock: node.deps.clock }),
      tokens: node.deps.tokens,
    });
    await expect(
      unsealed.enable('kubernetes', {
        type: 'kubernetes',
        config: { kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt: REVIEWER },
      }),
    ).rejects.toThrow(/cannot seal token_reviewer_jwt/);
  });

  it('answers a TokenReview login with a 400 where the runtime cannot call a cluster', async () => {
    const { root, call } = await kubernetesNode();
    await root('POST', '/v1/sys/auth/kubernetes', { type: 'kubernetes', config: { kubernetes_host: 'https://k8s' } });
    expect((await root('PUT', '/v1/auth/kubernetes/role/web', role)).status).toBe(200);
    const key = await makeKey('RS256');
    const res = await call('POST', '/v1/auth/kubernetes/login', {
      body: { role: 'web', jwt: await key.sign(projectedClaims(Date.now())) },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(NO_TOKEN_REVIEW);
  });

  it('logs a pod in offline (JWKS mode), and audits a refusal with mount, role and check', async () => {
    const { root, call, records } = await kubernetesNode();
    const key = await makeKey('ES256');
    const enabled = await root('POST', '/v1/sys/auth/eks', {
      type: 'kubernetes',
      config: { jwt_validation_pubkeys: [key.pem], issuer: CLUSTER_ISSUER },
    });
    expect(enabled.status).toBe(201);
    expect((await root('PUT', '/v1/auth/eks/role/web', role)).status).toBe(200);
    const ok = await call('POST', '/v1/auth/eks/login', {
      body: { role: 'web', jwt: await key.sign(projectedClaims(Date.now())) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.auth).toMatchObject({
      policies: ['shop-web'],
      mount_type: 'kubernetes',
      metadata: { service_account_name: 'web', service_account_namespace: 'shop', role: 'web' },
    });
    const jwt = await key.sign(projectedClaims(Date.now(), { namespace: 'kube-system' }));
    const refused = await call('POST', '/v1/auth/eks/login', { body: { role: 'web', jwt } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe('namespace not allowed by the role');
    expect(records(refused.requestId!).at(-1)).toMatchObject({
      outcome: 'denied',
      denied: {
        path: 'auth/eks/login',
        reason:
          'kubernetes login at auth/eks (role web) refused: kubernetes namespace: namespace not allowed by the role',
      },
    });
    expect(records(refused.requestId!)[0]?.request).toMatchObject({ jwt: expect.stringMatching(/^hmac-sha256:/) });
  });

  it('refuses a role binding every service account of every namespace', async () => {
    const { root } = await kubernetesNode();
    await root('POST', '/v1/sys/auth/kubernetes', {
      type: 'kubernetes',
      config: { oidc_discovery_url: CLUSTER_ISSUER },
    });
    const res = await root('PUT', '/v1/auth/kubernetes/role/all', {
      bound_service_account_names: ['*'],
      bound_service_account_namespaces: ['*'],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('may not both be "*"');
  });
});
