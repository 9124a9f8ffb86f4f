import type { JWTPayload } from 'jose';

export const CLUSTER_ISSUER = 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
export const API_AUDIENCE = 'https://kubernetes.default.svc';

/** Claims of a projected service-account token, as the kubelet mounts it for pod `web-7d9f` of `web` in `shop`. */
export function projectedClaims(
  now: number,
  account: { namespace?: string; name?: string; uid?: string } = {},
  overrides: JWTPayload = {},
): JWTPayload {
  const seconds = Math.floor(now / 1000);
  const namespace = account.namespace ?? 'shop';
  const name = account.name ?? 'web';
  return {
    iss: CLUSTER_ISSUER,
    aud: [API_AUDIENCE],
    sub: `system:serviceaccount:${namespace}:${name}`,
    'kubernetes.io': {
      namespace,
      serviceaccount: { name, uid: account.uid ?? '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c' },
      pod: { name: `${name}-7d9f`, uid: '9a8b7c6d-0000-4e1f-8a2b-3c4d5e6f7a8b' },
      node: { name: 'ip-10-0-1-23.eu-west-1.compute.internal', uid: '11111111-2222-4333-8444-555555555555' },
    },
    iat: seconds,
    nbf: seconds,
    exp: seconds + 3600,
    ...overrides,
  };
}

/** Claims of a legacy (secret-based) service-account token: no expiry, its secret named. */
export function legacyClaims(account: { namespace?: string; name?: string } = {}): JWTPayload {
  const namespace = account.namespace ?? 'shop';
  const name = account.name ?? 'web';
  return {
    iss: 'kubernetes/serviceaccount',
    sub: `system:serviceaccount:${namespace}:${name}`,
    'kubernetes.io/serviceaccount/namespace': namespace,
    'kubernetes.io/serviceaccount/secret.name': `${name}-token-x7k2p`,
    'kubernetes.io/serviceaccount/service-account.name': name,
    'kubernetes.io/serviceaccount/service-account.uid': '0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5',
  };
}
