import { describe, expect, it } from 'vitest';
import {
  checkBindings,
  serviceAccountAlias,
  serviceAccountFromClaims,
  serviceAccountFromReview,
  serviceAccountMetadata,
} from '../../../../../lambdas/core/auth/kubernetes/kubernetes-claims.ts';
import { KubernetesRoleSchema } from '../../../../../lambdas/core/auth/kubernetes/kubernetes-config.ts';
import { KubernetesLoginError } from '../../../../../lambdas/core/auth/kubernetes/kubernetes-errors.ts';
import { legacyClaims, projectedClaims } from './kubernetes-test-tokens.ts';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);

describe('Function: serviceAccountFromClaims', () => {
  it('reads a projected token: namespace, name, uid and the pod it is bound to', () => {
    expect(serviceAccountFromClaims(projectedClaims(NOW))).toEqual({
      namespace: 'shop',
      name: 'web',
      uid: '5f2b1c9e-6f0a-4c1e-9d6b-0d1e2f3a4b5c',
      podName: 'web-7d9f',
      podUid: '9a8b7c6d-0000-4e1f-8a2b-3c4d5e6f7a8b',
    });
  });

  it('reads a legacy secret-based token, with its secret name', () => {
    expect(serviceAccountFromClaims(legacyClaims())).toEqual({
      namespace: 'shop',
      name: 'web',
      uid: '0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5',
      secretName: 'web-token-x7k2p',
    });
  });

  it('refuses a token without service-account claims, or whose sub names another account', () => {
    expect(() => serviceAccountFromClaims({ sub: 'repo:octo-org/api' })).toThrow(
      new KubernetesLoginError('claim', 'token is not a Kubernetes service-account token'),
    );
    expect(() =>
      serviceAccountFromClaims(projectedClaims(NOW, {}, { sub: 'system:serviceaccount:kube-system:admin' })),
    ).toThrow('token subject does not name its service account');
    // A half-filled projected claim is no service account either (no uid).
    expect(() =>
      serviceAccountFromClaims({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'web' } } }),
    ).toThrow('token is not a Kubernetes service-account token');
  });

  it('follows own properties only: a claim named __proto__ names nothing', () => {
    const claims = JSON.parse('{"__proto__": {"kubernetes.io": {"namespace": "x"}}}') as Record<string, unknown>;
    expect(() => serviceAccountFromClaims(claims)).toThrow(KubernetesLoginError);
  });
});

describe('Function: serviceAccountFromReview', () => {
  it('reads the username, uid and pod of an authenticated review', () => {
    expect(
      serviceAccountFromReview({
        authenticated: true,
        username: 'system:serviceaccount:shop:web',
        uid: 'u-1',
        extra: { 'authentication.kubernetes.io/pod-name': ['web-7d9f'] },
      }),
    ).toEqual({ namespace: 'shop', name: 'web', uid: 'u-1', podName: 'web-7d9f', podUid: undefined });
  });

  it('refuses an unauthenticated review, keeping the API server’s reason for the audit log only', () => {
    const refused = (() => {
      try {
        serviceAccountFromReview({ authenticated: false, error: 'token has been invalidated' });
      } catch (err) {
        return err as KubernetesLoginError;
      }
    })();
    expect(refused?.message).toBe('the cluster did not authenticate the token');
    expect(refused?.auditReason).toBe(
      'kubernetes token_review: the cluster did not authenticate the token (token has been invalidated)',
    );
  });

  it('refuses a user that is not a service account', () => {
    for (const username of ['kubernetes-admin', 'system:serviceaccount:shop', 'system:serviceaccount:a:b:c']) {
      expect(() => serviceAccountFromReview({ authenticated: true, username })).toThrow(
        'the token is not a service account’s',
      );
    }
  });
});

describe('Function: checkBindings', () => {
  const role = (names: string[], namespaces: string[]) =>
    KubernetesRoleSchema.parse({ bound_service_account_names: names, bound_service_account_namespaces: namespaces });
  const account = { namespace: 'shop-prod', name: 'web-api', uid: 'u' };

  it('admits exact names, * and prefix or suffix globs', () => {
    expect(() => checkBindings(role(['web-api'], ['shop-prod']), account)).not.toThrow();
    expect(() => checkBindings(role(['*'], ['shop-*']), account)).not.toThrow();
    expect(() => checkBindings(role(['*-api'], ['*']), account)).not.toThrow();
    expect(() => checkBindings(role(['db', 'web-*'], ['other', '*-prod']), account)).not.toThrow();
  });

  it('names the binding that refused', () => {
    expect(() => checkBindings(role(['web-api'], ['shop-dev']), account)).toThrow(
      new KubernetesLoginError('namespace', 'namespace not allowed by the role'),
    );
    expect(() => checkBindings(role(['web'], ['shop-*']), account)).toThrow(
      new KubernetesLoginError('service_account', 'service account not allowed by the role'),
    );
  });
});

describe('Function: serviceAccountMetadata and serviceAccountAlias', () => {
  it('puts Vault’s metadata keys on the token and names the workload by uid or by name', () => {
    const legacy = serviceAccountFromClaims(legacyClaims());
    expect(serviceAccountMetadata(legacy)).toEqual({
      service_account_name: 'web',
      service_account_namespace: 'shop',
      service_account_uid: '0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5',
      service_account_secret_name: 'web-token-x7k2p',
    });
    expect(serviceAccountAlias(legacy, 'serviceaccount_uid')).toBe('0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5');
    expect(serviceAccountAlias(legacy, 'serviceaccount_name')).toBe('shop/web');
    expect(serviceAccountAlias({ namespace: 'shop', name: 'web' }, 'serviceaccount_uid')).toBe('shop/web');
  });
});
