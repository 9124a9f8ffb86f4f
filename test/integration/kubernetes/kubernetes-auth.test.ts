import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsEgressGuard, guardedFetch } from '../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { ClientNodeTokenReviewer } from '../../../lambdas/adapters/kubernetes/client-node-token-reviewer.ts';
import {
  type KubernetesMountConfig,
  KubernetesMountConfigSchema,
  type KubernetesRoleInput,
  KubernetesRoleSchema,
} from '../../../lambdas/core/auth/kubernetes/kubernetes-config.ts';
import { KubernetesLoginError } from '../../../lambdas/core/auth/kubernetes/kubernetes-errors.ts';
import { KubernetesMethod } from '../../../lambdas/core/auth/kubernetes/kubernetes-method.ts';
import type { AuthMountRef, LoginContext } from '../../../lambdas/core/auth/methods/auth-method.ts';
import { EgressPolicy } from '../../../lambdas/core/egress/egress-policy.ts';
import { InternalError } from '../../../lambdas/core/errors.ts';
import {
  API_SERVER_AUDIENCE,
  type FakeKubernetesApi,
  makeServerPki,
  startKubernetesApi,
} from '../../support/kubernetes-api.ts';
import { makeKey, startIssuer, type TestIssuer, type TestKey } from '../../unit/core/auth/jwt/jwt-test-issuer.ts';
import { CLUSTER_ISSUER, projectedClaims } from '../../unit/core/auth/kubernetes/kubernetes-test-tokens.ts';

/**
 * The Kubernetes method against real parts: TokenReview through `@kubernetes/client-node` to an HTTPS API server
 * whose certificate a CA of the test signed, and JWKS mode with tokens jose signed, served from a loopback issuer;
 * every call through the egress guard.
 */

const REVIEWER = 'reviewer.jwt.of-coffer';
const context = (): LoginContext => ({ sourceIp: '10.0.0.5', now: Date.now(), requestId: 'r-1' });
const web: KubernetesRoleInput = {
  bound_service_account_names: ['web'],
  bound_service_account_namespaces: ['shop'],
  token_policies: ['shop-web'],
};
const roles = (role: KubernetesRoleInput = web) => ({
  get: async (name: string) => (name === 'web' ? KubernetesRoleSchema.parse(role) : undefined),
});
const mountOf = (config: unknown): AuthMountRef<KubernetesMountConfig> => ({
  path: 'kubernetes',
  id: `kubernetes.${Math.random().toString(16).slice(2)}`,
  config: KubernetesMountConfigSchema.parse(config),
});
const guardFor = (allow: string) => new DnsEgressGuard(EgressPolicy.parse(allow));

let key: TestKey;
let cluster: FakeKubernetesApi;
beforeAll(async () => {
  key = await makeKey('RS256');
  cluster = await startKubernetesApi(REVIEWER);
});
afterAll(() => cluster.close());

/** A projected token of `shop/web` that the fake cluster authenticates. */
async function podToken(audiences?: string[]): Promise<string> {
  const jwt = await key.sign(projectedClaims(Date.now(), {}, { aud: audiences ?? [API_SERVER_AUDIENCE] }));
  cluster.accounts.set(jwt, {
    namespace: 'shop',
    name: 'web',
    uid: '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c',
    ...(audiences !== undefined && { audiences }),
  });
  return jwt;
}

describe('Kubernetes auth, TokenReview mode (client-node over HTTPS)', () => {
  const reviewMount = (extra: Record<string, unknown> = {}) =>
    mountOf({
      kubernetes_host: cluster.url,
      kubernetes_ca_cert: cluster.caPem,
      token_reviewer_jwt: REVIEWER,
      ...extra,
    });
  const method = (allow = `127.0.0.1:${cluster.port}`) =>
    new KubernetesMethod({
      clock: { now: Date.now },
      kubernetesTokenReview: new ClientNodeTokenReviewer(guardFor(allow)),
    });

  it('logs in a token the cluster authenticates, presenting the reviewer token and the role’s audience', async () => {
    const jwt = await podToken(['coffer']);
    const before = cluster.received.length;
    const outcome = await method().login(
      reviewMount(),
      { role: 'web', jwt },
      roles({ ...web, audience: 'coffer' }),
      context(),
    );
    expect(outcome).toMatchObject({
      role: 'web',
      policies: ['shop-web'],
      alias: '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c',
      metadata: {
        service_account_namespace: 'shop',
        service_account_name: 'web',
        service_account_pod_name: 'web-7d9f',
      },
    });
    expect(cluster.received.slice(before)).toEqual([
      {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        authorization: `Bearer ${REVIEWER}`,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token: jwt, audiences: ['coffer'] },
        },
      },
    ]);
  });

  it('refuses a token the cluster no longer knows (a deleted pod) with a 403', async () => {
    const jwt = await podToken();
    cluster.accounts.delete(jwt);
    const refused = await method()
      .login(reviewMount(), { role: 'web', jwt }, roles(), context())
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(KubernetesLoginError);
    expect((refused as KubernetesLoginError).message).toBe('the cluster did not authenticate the token');
    expect((refused as KubernetesLoginError).auditReason).toContain('(invalid bearer token)');
  });

  it('fails with a 500 naming only the status when the cluster refuses the reviewer', async () => {
    const jwt = await podToken();
    const err = await method()
      .login(reviewMount({ token_reviewer_jwt: 'wrong.reviewer.jwt' }), { role: 'web', jwt }, roles(), context())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toBe(`the TokenReview call to 127.0.0.1:${cluster.port} failed: HTTP 401`);
    expect(JSON.stringify(err)).not.toContain('wrong.reviewer.jwt');
  });

  it('never connects to a host off the egress allow-list', async () => {
    const jwt = await podToken();
    const before = cluster.received.length;
    const err = await method('10.0.0.0/8:443')
      .login(reviewMount(), { role: 'web', jwt }, roles(), context())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toBe(
      `the TokenReview call to 127.0.0.1:${cluster.port} is not allowed by the egress allow-list`,
    );
    expect(cluster.received.length).toBe(before);
  });

  it('refuses an API server whose certificate another CA signed, before sending anything', async () => {
    const jwt = await podToken();
    const before = cluster.received.length;
    const other = makeServerPki('another-ca');
    const err = await method()
      .login(reviewMount({ kubernetes_ca_cert: other.caPem }), { role: 'web', jwt }, roles(), context())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toMatch(/^the TokenReview call to 127\.0\.0\.1:\d+ failed: /);
    expect(cluster.received.length).toBe(before);
  });
});

describe('Kubernetes auth, JWKS mode (the issuer’s keys fetched through the egress guard)', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer([key.jwk]);
  });
  afterAll(() => issuer.close());
  const method = (allow: string) =>
    new KubernetesMethod({
      clock: { now: Date.now },
      egressFetch: guardedFetch(guardFor(allow), 'auth methods'),
    });

  it('logs in a projected token signed by the cluster’s key, and refuses one signed by another', async () => {
    const mount = mountOf({ jwks_url: `${issuer.url}/jwks.json`, issuer: CLUSTER_ISSUER });
    const allowed = method(`127.0.0.1:${issuer.port}`);
    const jwt = await key.sign(projectedClaims(Date.now()));
    await expect(allowed.login(mount, { role: 'web', jwt }, roles(), context())).resolves.toMatchObject({
      metadata: { service_account_name: 'web' },
    });
    const stranger = await makeKey('RS256');
    const refused = await allowed
      .login(mount, { role: 'web', jwt: await stranger.sign(projectedClaims(Date.now())) }, roles(), context())
      .catch((e: unknown) => e);
    expect((refused as KubernetesLoginError).message).toBe('no key of the issuer matches the token');
  });

  it('discovers the keys and the issuer from the OIDC discovery document, as EKS publishes them', async () => {
    const mount = mountOf({ oidc_discovery_url: issuer.url });
    const jwt = await key.sign(projectedClaims(Date.now(), {}, { iss: issuer.url }));
    await expect(
      method(`127.0.0.1:${issuer.port}`).login(mount, { role: 'web', jwt }, roles(), context()),
    ).resolves.toMatchObject({ role: 'web' });
    const foreign = await key.sign(projectedClaims(Date.now()));
    const refused = await method(`127.0.0.1:${issuer.port}`)
      .login(mount, { role: 'web', jwt: foreign }, roles(), context())
      .catch((e: unknown) => e);
    expect((refused as KubernetesLoginError).message).toBe('issuer not allowed');
  });

  it('fails closed when the issuer is off the egress allow-list', async () => {
    const mount = mountOf({ jwks_url: `${issuer.url}/jwks.json`, issuer: CLUSTER_ISSUER });
    const jwt = await key.sign(projectedClaims(Date.now()));
    const err = await method('10.0.0.0/8:443')
      .login(mount, { role: 'web', jwt }, roles(), context())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toBe('the JWKS document could not be fetched');
  });
});
