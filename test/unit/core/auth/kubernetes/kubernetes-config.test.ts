import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KubernetesLoginSchema,
  KubernetesMountConfigSchema,
  KubernetesRoleSchema,
  usesTokenReview,
} from '../../../../../lambdas/core/auth/kubernetes/kubernetes-config.ts';
import { KubernetesMethod } from '../../../../../lambdas/core/auth/kubernetes/kubernetes-method.ts';
import { makeKey } from '../jwt/jwt-test-issuer.ts';
import { CLUSTER_ISSUER } from './kubernetes-test-tokens.ts';

let caPem: string;
const dir = mkdtempSync(path.join(tmpdir(), 'coffer-k8s-config-'));
beforeAll(() => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=kubernetes-ca',
      '-keyout',
      path.join(dir, 'ca.key'),
      '-out',
      path.join(dir, 'ca.crt'),
    ],
    { stdio: 'ignore' },
  );
  caPem = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const errorsOf = (input: unknown) => {
  const result = KubernetesMountConfigSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
};

describe('Schema: KubernetesMountConfigSchema', () => {
  it('takes TokenReview mode (host, CA, reviewer token) and the JWKS mode key sources', async () => {
    const config = KubernetesMountConfigSchema.parse({
      kubernetes_host: 'https://10.96.0.1:443',
      kubernetes_ca_cert: caPem,
      token_reviewer_jwt: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
    });
    expect(usesTokenReview(config)).toBe(true);
    const key = await makeKey('RS256');
    for (const source of [
      { jwks_url: 'https://oidc.eks.eu-west-1.amazonaws.com/id/X/keys', issuer: CLUSTER_ISSUER },
      { oidc_discovery_url: CLUSTER_ISSUER },
      { jwt_validation_pubkeys: [key.pem], issuer: 'kubernetes/serviceaccount' },
    ]) {
      const parsed = KubernetesMountConfigSchema.parse(source);
      expect(usesTokenReview(parsed)).toBe(false);
    }
  });

  it('wants exactly one mode, and each mode’s settings only with it', () => {
    expect(errorsOf({})[0]).toContain('give exactly one of kubernetes_host');
    expect(errorsOf({ kubernetes_host: 'https://k8s', oidc_discovery_url: CLUSTER_ISSUER })[0]).toContain(
      'give exactly one of',
    );
    expect(errorsOf({ oidc_discovery_url: CLUSTER_ISSUER, token_reviewer_jwt: 'x' })).toContain(
      'kubernetes_ca_cert and token_reviewer_jwt belong to TokenReview mode (kubernetes_host)',
    );
    expect(errorsOf({ kubernetes_host: 'https://k8s', issuer: CLUSTER_ISSUER })[0]).toContain('belong to JWKS mode');
    expect(errorsOf({ jwks_url: 'https://k8s/keys' })[0]).toContain('needs issuer');
  });

  it('refuses plain http, credentials in the host URL, a CA that is not a certificate, and alg none or HS256', () => {
    expect(errorsOf({ kubernetes_host: 'http://10.96.0.1' })[0]).toContain('must be an https URL');
    expect(errorsOf({ kubernetes_host: 'https://user:pw@10.96.0.1' })[0]).toContain('must be an https URL');
    expect(errorsOf({ kubernetes_host: 'https://k8s', kubernetes_ca_cert: 'not a pem' })[0]).toContain(
      'must be one or more PEM certificates',
    );
    const broken = caPem.replace(/^(-----BEGIN CERTIFICATE-----\n)..../, '$1AAAA');
    expect(errorsOf({ kubernetes_host: 'https://k8s', kubernetes_ca_cert: broken })[0]).toContain('PEM certificates');
    expect(errorsOf({ oidc_discovery_url: CLUSTER_ISSUER, jwt_supported_algs: ['none'] })[0]).toContain(
      'algorithm none is never accepted',
    );
    expect(errorsOf({ oidc_discovery_url: CLUSTER_ISSUER, jwt_supported_algs: ['HS256'] })[0]).toContain(
      'symmetric algorithms',
    );
  });

  it('is shown without the reviewer token: only that one is set', () => {
    const method = new KubernetesMethod({ clock: { now: () => 0 } });
    const config = KubernetesMountConfigSchema.parse({
      kubernetes_host: 'https://10.96.0.1',
      token_reviewer_jwt: 'reviewer-secret',
    });
    const shown = method.describeConfig(config);
    expect(shown).toEqual({ kubernetes_host: 'https://10.96.0.1', token_reviewer_jwt_set: true });
    expect(JSON.stringify(shown)).not.toContain('reviewer-secret');
    expect(method.describeConfig(KubernetesMountConfigSchema.parse({ oidc_discovery_url: CLUSTER_ISSUER }))).toEqual({
      oidc_discovery_url: CLUSTER_ISSUER,
    });
  });
});

describe('Schema: KubernetesRoleSchema', () => {
  it('fills Vault’s defaults', () => {
    expect(
      KubernetesRoleSchema.parse({ bound_service_account_names: ['web'], bound_service_account_namespaces: ['shop'] }),
    ).toEqual({
      bound_service_account_names: ['web'],
      bound_service_account_namespaces: ['shop'],
      alias_name_source: 'serviceaccount_uid',
      token_policies: [],
      token_ttl: 0,
      token_max_ttl: 0,
      token_num_uses: 0,
      token_bound_cidrs: [],
      clock_skew_leeway: 60,
    });
  });

  it('requires both bindings, not both *, and Kubernetes names', () => {
    const messages = (input: unknown) => {
      const result = KubernetesRoleSchema.safeParse(input);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(messages({ bound_service_account_names: ['web'] })[0]).toContain('bound_service_account_namespaces');
    expect(messages({ bound_service_account_names: [], bound_service_account_namespaces: ['shop'] })[0]).toContain(
      'bound_service_account_names',
    );
    expect(messages({ bound_service_account_names: ['*'], bound_service_account_namespaces: ['*'] })).toEqual([
      ': bound_service_account_names and bound_service_account_namespaces may not both be "*"',
    ]);
    expect(
      messages({ bound_service_account_names: ['Web App'], bound_service_account_namespaces: ['shop'] })[0],
    ).toContain('must be a Kubernetes name');
    expect(
      messages({
        bound_service_account_names: ['web'],
        bound_service_account_namespaces: ['shop'],
        token_ttl: '2h',
        token_max_ttl: '1h',
      })[0],
    ).toContain('token_ttl must not exceed token_max_ttl');
    expect(
      messages({
        bound_service_account_names: ['web'],
        bound_service_account_namespaces: ['shop'],
        bound_claims: {},
      })[0],
    ).toContain('Unrecognized key');
  });
});

describe('Schema: KubernetesLoginSchema', () => {
  it('is Vault’s {role, jwt}', () => {
    expect(KubernetesLoginSchema.parse({ role: 'web', jwt: 'a.b.c' })).toEqual({ role: 'web', jwt: 'a.b.c' });
    expect(KubernetesLoginSchema.safeParse({ role: 'web' }).success).toBe(false);
    expect(KubernetesLoginSchema.safeParse({ role: 'web', jwt: 'a.b.c', extra: 1 }).success).toBe(false);
  });
});
