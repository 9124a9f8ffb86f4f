import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  type KubernetesMountConfig,
  KubernetesMountConfigSchema,
  type KubernetesRole,
  type KubernetesRoleInput,
  KubernetesRoleSchema,
} from '../../../../../lambdas/core/auth/kubernetes/kubernetes-config.ts';
import { KubernetesLoginError } from '../../../../../lambdas/core/auth/kubernetes/kubernetes-errors.ts';
import {
  KUBERNETES_METHOD,
  KubernetesMethod,
  NO_TOKEN_REVIEW,
} from '../../../../../lambdas/core/auth/kubernetes/kubernetes-method.ts';
import type { AuthMountRef, LoginContext } from '../../../../../lambdas/core/auth/methods/auth-method.ts';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';
import type {
  KubernetesTokenReviewer,
  TokenReviewRequest,
  TokenReviewResult,
} from '../../../../../lambdas/core/ports/kubernetes-token-review.ts';
import { makeKey, type TestKey } from '../jwt/jwt-test-issuer.ts';
import { API_AUDIENCE, CLUSTER_ISSUER, legacyClaims, projectedClaims } from './kubernetes-test-tokens.ts';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);
const SECONDS = Math.floor(NOW / 1000);
const clock = { now: () => NOW };
const context: LoginContext = { sourceIp: '10.0.0.5', now: NOW, requestId: 'r-1' };

const web: KubernetesRoleInput = {
  bound_service_account_names: ['web', 'web-*'],
  bound_service_account_namespaces: ['shop'],
  token_policies: ['shop-web'],
  token_ttl: '10m',
  token_max_ttl: '1h',
  token_num_uses: 3,
};

function roles(entries: Record<string, KubernetesRoleInput>) {
  const parsed = new Map<string, KubernetesRole>(
    Object.entries(entries).map(([name, role]) => [name, KubernetesRoleSchema.parse(role)]),
  );
  return { get: async (name: string) => parsed.get(name) };
}

function mountOf(config: unknown): AuthMountRef<KubernetesMountConfig> {
  return { path: 'kubernetes', id: 'kubernetes.abc', config: KubernetesMountConfigSchema.parse(config) };
}

/** What a login is refused with: its message, its audit reason and role. */
async function refusal(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubernetesLoginError);
  const refused = err as KubernetesLoginError;
  return { message: refused.message, auditReason: refused.auditReason, role: refused.role };
}

describe('Class: KubernetesMethod, JWKS mode', () => {
  const offline = async () => {
    const key = await makeKey('RS256');
    const method = KUBERNETES_METHOD.create({ store: undefined as never, clock });
    const mount = mountOf({ jwt_validation_pubkeys: [key.pem], issuer: CLUSTER_ISSUER });
    const login = (jwt: string, role = 'web', entries: Record<string, KubernetesRoleInput> = { web }) =>
      method.login(mount, { role, jwt }, roles(entries), context);
    return { key, method, mount, login };
  };

  it('logs a pod in with its projected token: the role’s policies and TTLs, Vault’s metadata, the uid as alias', async () => {
    const { key, login } = await offline();
    const outcome = await login(await key.sign(projectedClaims(NOW)));
    expect(outcome).toEqual({
      role: 'web',
      policies: ['shop-web'],
      ttlSeconds: 600,
      maxTtlSeconds: 3600,
      numUses: 3,
      metadata: {
        service_account_name: 'web',
        service_account_namespace: 'shop',
        service_account_uid: '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c',
        service_account_pod_name: 'web-7d9f',
        service_account_pod_uid: '9a8b7c6d-0000-4e1f-8a2b-3c4d5e6f7a8b',
        role: 'web',
      },
      alias: '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c',
      boundCidrs: [],
    });
    const byName = await login(await key.sign(projectedClaims(NOW, { name: 'web-worker' })), 'named', {
      named: { ...web, alias_name_source: 'serviceaccount_name' },
    });
    expect(byName.alias).toBe('shop/web-worker');
  });

  it('checks the audience only when the role or the mount names one', async () => {
    const { key, login } = await offline();
    const jwt = await key.sign(projectedClaims(NOW));
    await expect(login(jwt, 'web', { web: { ...web, audience: API_AUDIENCE } })).resolves.toMatchObject({
      role: 'web',
    });
    expect(await refusal(login(jwt, 'web', { web: { ...web, audience: 'coffer' } }))).toEqual({
      message: 'audience not allowed',
      auditReason: 'kubernetes audience: audience not allowed',
      role: 'web',
    });
    const method = new KubernetesMethod({ clock });
    const mount = mountOf({ jwt_validation_pubkeys: [key.pem], issuer: CLUSTER_ISSUER, audience: 'coffer' });
    const refused = await refusal(method.login(mount, { role: 'web', jwt }, roles({ web }), context));
    expect(refused.message).toBe('audience not allowed');
  });

  it.each([
    ['an expired token', projectedClaims(NOW, {}, { exp: SECONDS - 3600 }), 'token expired'],
    ['a token not yet valid', projectedClaims(NOW, {}, { nbf: SECONDS + 3600 }), 'token not yet valid'],
    [
      'a token from another issuer',
      projectedClaims(NOW, {}, { iss: 'https://evil.example.com' }),
      'issuer not allowed',
    ],
    ['a token without exp (a legacy one)', legacyClaims(), 'token has no expiry (exp)'],
    ['another namespace', projectedClaims(NOW, { namespace: 'billing' }), 'namespace not allowed by the role'],
    ['another service account', projectedClaims(NOW, { name: 'db' }), 'service account not allowed by the role'],
    [
      'a token of no service account',
      { iss: CLUSTER_ISSUER, sub: 'x', exp: SECONDS + 60 },
      'token is not a Kubernetes service-account token',
    ],
  ])('refuses %s, naming the check', async (_label, claims, message) => {
    const { key, login } = await offline();
    const refused = await refusal(login(await key.sign(claims)));
    expect(refused.message).toBe(message);
    expect(refused.role).toBe('web');
    expect(refused.auditReason).toContain(message);
    expect(refused.auditReason).toMatch(/^kubernetes /);
  });

  it('tolerates the role’s clock skew, and no more', async () => {
    const { key, login } = await offline();
    await expect(login(await key.sign(projectedClaims(NOW, {}, { exp: SECONDS - 30 })))).resolves.toBeDefined();
    expect((await refusal(login(await key.sign(projectedClaims(NOW, {}, { exp: SECONDS - 61 }))))).message).toBe(
      'token expired',
    );
  });

  it('refuses alg none, HS256 signed with the public key, a foreign key, and garbage, without echoing the token', async () => {
    const { key, login } = await offline();
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${encode({ alg: 'none' })}.${encode(projectedClaims(NOW))}.`;
    expect((await refusal(login(none))).message).toBe('algorithm none not allowed');
    const { SignJWT } = await import('jose');
    const hs = await new SignJWT(projectedClaims(NOW))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(key.pem));
    expect((await refusal(login(hs))).message).toBe('algorithm HS256 not allowed');
    const other: TestKey = await makeKey('RS256');
    expect((await refusal(login(await other.sign(projectedClaims(NOW))))).message).toBe('token signature is invalid');
    const garbage = await refusal(login('not-a-token-at-all'));
    expect(garbage.message).toBe('token is not a compact JWT');
    expect(garbage.auditReason).not.toContain('not-a-token-at-all');
  });

  it('refuses an unknown role, and a source outside token_bound_cidrs', async () => {
    const { key, login } = await offline();
    const jwt = await key.sign(projectedClaims(NOW));
    expect(await refusal(login(jwt, 'nope'))).toEqual({
      message: 'role not found',
      auditReason: 'kubernetes unknown_role: role not found',
      role: undefined,
    });
    const bound = await refusal(login(jwt, 'web', { web: { ...web, token_bound_cidrs: ['192.168.0.0/16'] } }));
    expect(bound).toMatchObject({ message: 'source address not allowed by the role', role: 'web' });
  });

  it('fails closed when a key URL must be fetched and the runtime has no egress guard', async () => {
    const method = new KubernetesMethod({ clock });
    const key = await makeKey('ES256');
    const mount = mountOf({ jwks_url: 'https://oidc.example.com/keys', issuer: CLUSTER_ISSUER });
    await expect(
      method.login(mount, { role: 'web', jwt: await key.sign(projectedClaims(NOW)) }, roles({ web }), context),
    ).rejects.toMatchObject({
      message: 'the JWKS document could not be fetched',
      cause: { message: 'the Kubernetes method needs the egress guard to fetch keys, and has none' },
    });
  });
});

/** A TokenReview API that answers `answer` and remembers what it was asked. */
function reviewer(answer: (request: TokenReviewRequest) => TokenReviewResult) {
  const asked: TokenReviewRequest[] = [];
  const review: KubernetesTokenReviewer = {
    review: async (request) => {
      asked.push(request);
      return answer(request);
    },
  };
  return { review, asked };
}

describe('Class: KubernetesMethod, TokenReview mode', () => {
  const config = { kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt: 'reviewer-jwt' };
  const key = makeKey('RS256');
  const authenticated = (request: TokenReviewRequest): TokenReviewResult => ({
    authenticated: true,
    username: 'system:serviceaccount:shop:web',
    uid: '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c',
    audiences: request.audiences === undefined ? [API_AUDIENCE] : [...request.audiences],
  });

  it('asks the cluster with the reviewer’s token, and takes its answer', async () => {
    const cluster = reviewer(authenticated);
    const method = new KubernetesMethod({ clock, kubernetesTokenReview: cluster.review });
    const jwt = await (await key).sign(projectedClaims(NOW));
    const outcome = await method.login(mountOf(config), { role: 'web', jwt }, roles({ web }), context);
    expect(cluster.asked).toEqual([
      { host: 'https://10.96.0.1', caCert: undefined, reviewerJwt: 'reviewer-jwt', token: jwt, audiences: undefined },
    ]);
    expect(outcome.metadata).toMatchObject({ service_account_name: 'web', service_account_namespace: 'shop' });
    expect(outcome.alias).toBe('5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c');
  });

  it('lets the login’s own token review itself without a reviewer token, and asks for the role’s audience', async () => {
    const cluster = reviewer(authenticated);
    const method = new KubernetesMethod({ clock, kubernetesTokenReview: cluster.review });
    const jwt = await (await key).sign(projectedClaims(NOW, {}, { aud: 'coffer' }));
    await method.login(
      mountOf({ kubernetes_host: 'https://10.96.0.1' }),
      { role: 'web', jwt },
      roles({ web: { ...web, audience: 'coffer' } }),
      context,
    );
    expect(cluster.asked[0]).toMatchObject({ reviewerJwt: jwt, audiences: ['coffer'] });
  });

  it('accepts a legacy token the cluster vouches for, with its secret name', async () => {
    const cluster = reviewer(() => ({ authenticated: true, username: 'system:serviceaccount:shop:web' }));
    const method = new KubernetesMethod({ clock, kubernetesTokenReview: cluster.review });
    const jwt = await (await key).sign(legacyClaims());
    const outcome = await method.login(mountOf(config), { role: 'web', jwt }, roles({ web }), context);
    expect(outcome.metadata).toMatchObject({ service_account_secret_name: 'web-token-x7k2p' });
  });

  it.each([
    [
      'a token the cluster does not authenticate',
      (): TokenReviewResult => ({ authenticated: false, error: 'token has been invalidated' }),
      'the cluster did not authenticate the token',
    ],
    [
      'an answer naming another service account',
      (): TokenReviewResult => ({ authenticated: true, username: 'system:serviceaccount:shop:admin' }),
      'the cluster names another service account than the token',
    ],
    [
      'a token of a service account deleted and re-created under the same name (another uid)',
      (): TokenReviewResult => ({
        authenticated: true,
        username: 'system:serviceaccount:shop:web',
        uid: 'uid-of-the-new-account',
        audiences: [API_AUDIENCE],
      }),
      'the cluster names another service account than the token',
    ],
    [
      'an answer for another audience',
      (): TokenReviewResult => ({ authenticated: true, username: 'system:serviceaccount:shop:web', audiences: ['x'] }),
      'audience not allowed',
    ],
  ])('refuses %s', async (_label, answer, message) => {
    const method = new KubernetesMethod({ clock, kubernetesTokenReview: reviewer(answer).review });
    const jwt = await (await key).sign(projectedClaims(NOW));
    const refused = await refusal(
      method.login(mountOf(config), { role: 'web', jwt }, roles({ web: { ...web, audience: API_AUDIENCE } }), context),
    );
    expect(refused.message).toBe(message);
    expect(refused.role).toBe('web');
  });

  it('refuses what the role would refuse anyway without calling the cluster', async () => {
    const cluster = reviewer(authenticated);
    const method = new KubernetesMethod({ clock, kubernetesTokenReview: cluster.review });
    const login = async (claims: JWTPayload) =>
      refusal(
        method.login(mountOf(config), { role: 'web', jwt: await (await key).sign(claims) }, roles({ web }), context),
      );
    expect((await login(projectedClaims(NOW, { namespace: 'billing' }))).message).toBe(
      'namespace not allowed by the role',
    );
    expect((await login(projectedClaims(NOW, {}, { exp: SECONDS - 3600 }))).message).toBe('token expired');
    expect(
      (await refusal(method.login(mountOf(config), { role: 'web', jwt: 'x.y' }, roles({ web }), context))).message,
    ).toBe('token is not a compact JWT');
    expect(cluster.asked).toEqual([]);
  });

  it('answers a 400 on a runtime without TokenReview (AWS Lambda)', async () => {
    const method = new KubernetesMethod({ clock });
    const jwt = await (await key).sign(projectedClaims(NOW));
    await expect(method.login(mountOf(config), { role: 'web', jwt }, roles({ web }), context)).rejects.toThrow(
      new ValidationError(NO_TOKEN_REVIEW),
    );
  });
});
