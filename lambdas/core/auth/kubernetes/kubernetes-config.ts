import * as z from 'zod';
import { DurationSchema } from '../../duration.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import { JWT_LIMITS, JwtMountConfigSchema } from '../jwt/jwt-config.ts';
import { CidrListSchema } from '../methods/cidrs.ts';
import { pemCertificatesSchema } from '../methods/pem-certificates.ts';

export const KUBERNETES_LIMITS = {
  /** Names or namespaces one role binds. */
  bindings: 256,
  policies: 64,
  caLength: 65_536,
  /** A service-account token is well under this; the reviewer's too. */
  tokenLength: JWT_LIMITS.tokenLength,
  leewaySeconds: JWT_LIMITS.leewaySeconds,
} as const;

/**
 * The API server's URL for TokenReview mode: https only, since the reviewer's token and the workload's token travel
 * in the request, and without credentials, query or fragment (the path may carry a proxy prefix).
 */
const KubernetesHostSchema = z
  .string()
  .max(1024)
  .refine(
    (text) => {
      if (!URL.canParse(text)) return false;
      const url = new URL(text);
      return url.protocol === 'https:' && url.username === '' && url.password === '' && url.search === '' && !url.hash;
    },
    { error: 'must be an https URL without credentials, query or fragment, e.g. https://10.96.0.1:443' },
  );

/** One or more PEM certificates (a CA bundle), each of which must parse. */
const CaBundleSchema = pemCertificatesSchema(
  KUBERNETES_LIMITS.caLength,
  'must be one or more PEM certificates (BEGIN CERTIFICATE)',
);

const jwtShape = JwtMountConfigSchema.shape;

/**
 * A Kubernetes mount's configuration (Vault's `auth/kubernetes/config` in spirit), in one of two modes:
 *
 * - **TokenReview**: `kubernetes_host` (+ `kubernetes_ca_cert`, `token_reviewer_jwt`). The cluster's TokenReview API
 *   decides, so a token of a deleted pod or service account stops working at once. Needs the local server.
 * - **JWKS (offline)**: `jwks_url`, `oidc_discovery_url` or `jwt_validation_pubkeys`, with `issuer`. The token's
 *   signature is checked against the issuer's keys, as EKS publishes them; the only mode on AWS Lambda.
 */
export const KubernetesMountConfigSchema = z
  .strictObject({
    kubernetes_host: KubernetesHostSchema.optional(),
    kubernetes_ca_cert: CaBundleSchema.optional(),
    /**
     * The bearer token of the TokenReview call (a service account bound to `system:auth-delegator`). Stored, never
     * shown back. Absent: each login's own token reviews itself, as in Vault (its service account then needs the
     * binding).
     */
    token_reviewer_jwt: z.string().min(1).max(KUBERNETES_LIMITS.tokenLength).optional(),
    jwks_url: jwtShape.jwks_url,
    oidc_discovery_url: jwtShape.oidc_discovery_url,
    jwt_validation_pubkeys: jwtShape.jwt_validation_pubkeys,
    /** The `iss` of the cluster's tokens (EKS: `https://oidc.eks.<region>.amazonaws.com/id/<id>`). */
    issuer: z.string().min(1).max(JWT_LIMITS.stringLength).optional(),
    jwt_supported_algs: jwtShape.jwt_supported_algs,
    /** The audience every role of the mount requires, unless the role names its own. */
    audience: z.string().min(1).max(JWT_LIMITS.stringLength).optional(),
  })
  .refine(
    (c) =>
      [c.kubernetes_host, c.jwks_url, c.oidc_discovery_url, c.jwt_validation_pubkeys].filter((s) => s !== undefined)
        .length === 1,
    {
      error:
        'give exactly one of kubernetes_host (TokenReview mode) or jwks_url, oidc_discovery_url, jwt_validation_pubkeys (JWKS mode)',
    },
  )
  .refine(
    (c) =>
      c.kubernetes_host !== undefined || (c.kubernetes_ca_cert === undefined && c.token_reviewer_jwt === undefined),
    {
      error: 'kubernetes_ca_cert and token_reviewer_jwt belong to TokenReview mode (kubernetes_host)',
    },
  )
  .refine((c) => c.kubernetes_host === undefined || (c.issuer === undefined && c.jwt_supported_algs === undefined), {
    error: 'issuer and jwt_supported_algs belong to JWKS mode: in TokenReview mode the cluster checks the token',
  })
  .refine((c) => (c.jwks_url === undefined && c.jwt_validation_pubkeys === undefined) || c.issuer !== undefined, {
    error: 'JWKS mode with jwks_url or jwt_validation_pubkeys needs issuer (the iss of the cluster’s tokens)',
    path: ['issuer'],
  });
export type KubernetesMountConfigInput = z.input<typeof KubernetesMountConfigSchema>;
export type KubernetesMountConfig = z.output<typeof KubernetesMountConfigSchema>;

/** Whether a mount checks tokens with the cluster's TokenReview API (else offline, with the issuer's keys). */
export function usesTokenReview(
  config: KubernetesMountConfig,
): config is KubernetesMountConfig & { kubernetes_host: string } {
  return config.kubernetes_host !== undefined;
}

/**
 * A service-account name or namespace a role binds: Kubernetes' own characters (lower-case letters, digits, `-`,
 * `.`), and `*`, which matches any run of them (`*` alone: any; `web-*`: a prefix; `*-ci`: a suffix).
 */
const BindingSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9.*-]+$/, { error: 'must be a Kubernetes name (a-z, 0-9, - and .), with * as a glob' });

const LeewaySchema = DurationSchema.refine((s) => s <= KUBERNETES_LIMITS.leewaySeconds, {
  error: `must be at most ${KUBERNETES_LIMITS.leewaySeconds} seconds`,
});

/**
 * A role of a Kubernetes mount: which service accounts may log in through it, and what their Coffer token carries.
 * Both bindings are required, and they may not both be `*` (that would admit every workload of the cluster), as in
 * Vault.
 */
export const KubernetesRoleSchema = z
  .strictObject({
    bound_service_account_names: z.array(BindingSchema).min(1).max(KUBERNETES_LIMITS.bindings),
    bound_service_account_namespaces: z.array(BindingSchema).min(1).max(KUBERNETES_LIMITS.bindings),
    /** The token's `aud` must contain it (and a TokenReview asks for it). @default the mount's `audience`, if any */
    audience: z.string().min(1).max(JWT_LIMITS.stringLength).optional(),
    /** What names the workload in the login's alias: the service account's uid (stable) or `<namespace>/<name>`. */
    alias_name_source: z.enum(['serviceaccount_uid', 'serviceaccount_name']).default('serviceaccount_uid'),
    token_policies: z.array(PolicyNameSchema).max(KUBERNETES_LIMITS.policies).default([]),
    /** 0: the token service's default. */
    token_ttl: DurationSchema.default(0),
    /** 0: the token service's maximum. */
    token_max_ttl: DurationSchema.default(0),
    token_num_uses: z.number().int().min(0).max(1_000_000).default(0),
    /** Logins, and the Coffer tokens they get, only from these addresses (as Vault's Kubernetes method). */
    token_bound_cidrs: CidrListSchema.default([]),
    /** JWKS mode: allowed clock difference for `exp`, `nbf` and `iat`. */
    clock_skew_leeway: LeewaySchema.default(60),
  })
  .refine((r) => !(r.bound_service_account_names.includes('*') && r.bound_service_account_namespaces.includes('*')), {
    error: 'bound_service_account_names and bound_service_account_namespaces may not both be "*"',
  })
  .refine((r) => r.token_max_ttl === 0 || r.token_ttl <= r.token_max_ttl, {
    error: 'token_ttl must not exceed token_max_ttl',
    path: ['token_ttl'],
  });
export type KubernetesRoleInput = z.input<typeof KubernetesRoleSchema>;
export type KubernetesRole = z.output<typeof KubernetesRoleSchema>;

/**
 * The body of `POST /v1/auth/<mount>/login`: `{ role, jwt }`, Vault's shape. No format check on `jwt` here: its
 * messages would otherwise have to be kept from echoing it; the login refuses a malformed one with a fixed message.
 */
export const KubernetesLoginSchema = z.strictObject({
  role: z.string().min(1).max(128),
  jwt: z.string().min(1).max(KUBERNETES_LIMITS.tokenLength),
});
export type KubernetesLogin = z.infer<typeof KubernetesLoginSchema>;
