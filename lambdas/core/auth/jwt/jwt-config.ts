import { createPublicKey } from 'node:crypto';
import * as z from 'zod';
import { DurationSchema } from '../../duration.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import { CidrListSchema } from '../methods/cidrs.ts';

/**
 * The signature algorithms a mount may accept. Symmetric ones (HS*) are never on the list: the verifying key would be
 * the signing key, and with a published public key as "secret" (the classic confusion attack) anyone could sign.
 * `none` is not an algorithm at all.
 */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** What a mount accepts when `jwt_supported_algs` is not set: the RSA and ECDSA families issuers actually use. */
export const DEFAULT_JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

/** Bounds that keep a mount's and a role's configuration small; both are read on every login. */
export const JWT_LIMITS = {
  pubkeys: 16,
  pemLength: 16_384,
  audiences: 64,
  boundClaims: 64,
  boundValues: 256,
  claimMappings: 64,
  stringLength: 1024,
  policies: 64,
  /** A token longer than this is refused before it is parsed. */
  tokenLength: 16_384,
  /** Leeways beyond an hour would make `exp` meaningless. */
  leewaySeconds: 3_600,
} as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Whether Coffer may fetch keys or a discovery document from `text`: https, or http on loopback only (a local test
 * issuer). Over plain http anyone on the path could substitute their own keys and sign any token they like.
 */
export function isKeyFetchUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  if (url.username !== '' || url.password !== '') return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
}

const FetchUrlSchema = z
  .string()
  .max(JWT_LIMITS.stringLength)
  .refine(isKeyFetchUrl, { error: 'must be an https URL without credentials (http only on loopback)' });

const PemSchema = z
  .string()
  .max(JWT_LIMITS.pemLength)
  .refine(
    (pem) => {
      if (!/^-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(pem.trim())) return false;
      try {
        return createPublicKey(pem).type === 'public';
      } catch {
        return false;
      }
    },
    { error: 'must be a PEM public key (BEGIN PUBLIC KEY) or certificate (BEGIN CERTIFICATE)' },
  );

const AlgorithmSchema = z.string().superRefine((alg, ctx) => {
  if ((JWT_ALGORITHMS as readonly string[]).includes(alg)) return;
  const why =
    alg.toLowerCase() === 'none'
      ? 'algorithm none is never accepted'
      : /^HS/i.test(alg)
        ? 'symmetric algorithms (HS*) are never accepted'
        : `unsupported algorithm; use one of ${JWT_ALGORITHMS.join(', ')}`;
  ctx.addIssue({ code: 'custom', message: why });
});

/**
 * A JWT mount's configuration (`coffer auth enable jwt` then `auth/<mount>/config`), named as Vault names it. Exactly
 * one key source: a JWKS URL, static PEM keys, or an OIDC discovery URL (whose document gives the JWKS URL and the
 * issuer). Every URL is fetched through the egress guard, so its host must also be on the outbound allow-list.
 */
export const JwtMountConfigSchema = z
  .strictObject({
    jwks_url: FetchUrlSchema.optional(),
    jwt_validation_pubkeys: z.array(PemSchema).min(1).max(JWT_LIMITS.pubkeys).optional(),
    oidc_discovery_url: FetchUrlSchema.optional(),
    bound_issuer: z.string().min(1).max(JWT_LIMITS.stringLength).optional(),
    jwt_supported_algs: z
      .array(AlgorithmSchema)
      .min(1)
      .max(JWT_ALGORITHMS.length)
      .transform((algs) => [...new Set(algs)] as JwtAlgorithm[])
      .optional(),
  })
  .refine(
    (c) =>
      [c.jwks_url, c.jwt_validation_pubkeys, c.oidc_discovery_url].filter((source) => source !== undefined).length ===
      1,
    { error: 'give exactly one of jwks_url, jwt_validation_pubkeys or oidc_discovery_url' },
  );
export type JwtMountConfigInput = z.input<typeof JwtMountConfigSchema>;
export type JwtMountConfig = z.output<typeof JwtMountConfigSchema>;

const ScalarSchema = z.union([z.string().max(JWT_LIMITS.stringLength), z.number(), z.boolean()]);
/** A claim name, or a JSON pointer (`/nested/claim`) into the claims as Vault reads one. */
const ClaimPathSchema = z.string().min(1).max(256);
/** Metadata keys the login sets itself, which a mapped claim must not overwrite. */
const RESERVED_METADATA = new Set(['role', 'role_name', 'mount', 'method']);
const LeewaySchema = DurationSchema.refine((s) => s <= JWT_LIMITS.leewaySeconds, {
  error: `must be at most ${JWT_LIMITS.leewaySeconds} seconds`,
});

/**
 * A role of a JWT mount: which tokens may log in through it (`bound_*`) and what the Coffer token they get carries.
 * A role must bind something besides the issuer (an audience, a subject or a claim): an issuer such as GitHub Actions
 * signs tokens for every repository in the world, so the issuer alone admits strangers.
 */
export const JwtRoleSchema = z
  .strictObject({
    bound_audiences: z.array(z.string().min(1).max(JWT_LIMITS.stringLength)).max(JWT_LIMITS.audiences).optional(),
    bound_subject: z.string().min(1).max(JWT_LIMITS.stringLength).optional(),
    bound_claims: z
      .record(ClaimPathSchema, z.union([ScalarSchema, z.array(ScalarSchema).min(1).max(JWT_LIMITS.boundValues)]))
      .refine((m) => Object.keys(m).length <= JWT_LIMITS.boundClaims, {
        error: `must have at most ${JWT_LIMITS.boundClaims} claims`,
      })
      .optional(),
    bound_claims_type: z.enum(['string', 'glob']).default('string'),
    claim_mappings: z
      .record(ClaimPathSchema, z.string().min(1).max(128))
      .refine((m) => Object.keys(m).length <= JWT_LIMITS.claimMappings, {
        error: `must have at most ${JWT_LIMITS.claimMappings} mappings`,
      })
      .refine((m) => new Set(Object.values(m)).size === Object.values(m).length, {
        error: 'two claims map to the same metadata key',
      })
      .refine((m) => Object.values(m).every((key) => !RESERVED_METADATA.has(key)), {
        error: `metadata keys ${[...RESERVED_METADATA].join(', ')} are set by the login itself`,
      })
      .optional(),
    user_claim: ClaimPathSchema.default('sub'),
    token_policies: z.array(PolicyNameSchema).max(JWT_LIMITS.policies).default([]),
    /** 0: the token service's default. */
    token_ttl: DurationSchema.default(0),
    /** 0: the token service's maximum. */
    token_max_ttl: DurationSchema.default(0),
    token_num_uses: z.number().int().min(0).max(1_000_000).default(0),
    /** The Coffer token works only from these addresses. */
    token_bound_cidrs: CidrListSchema.default([]),
    /** Logins are accepted only from these addresses (Vault's `bound_cidrs`). */
    bound_cidrs: CidrListSchema.default([]),
    clock_skew_leeway: LeewaySchema.default(60),
    expiration_leeway: LeewaySchema.default(0),
    not_before_leeway: LeewaySchema.default(0),
  })
  .refine(
    (r) =>
      (r.bound_audiences?.length ?? 0) > 0 ||
      r.bound_subject !== undefined ||
      Object.keys(r.bound_claims ?? {}).length > 0,
    { error: 'a role must bind at least one of bound_audiences, bound_subject or bound_claims' },
  )
  .refine((r) => r.token_max_ttl === 0 || r.token_ttl <= r.token_max_ttl, {
    error: 'token_ttl must not exceed token_max_ttl',
    path: ['token_ttl'],
  })
  .refine(
    (r) =>
      r.bound_claims_type !== 'glob' ||
      Object.values(r.bound_claims ?? {}).every((v) =>
        (Array.isArray(v) ? v : [v]).every((x) => typeof x === 'string'),
      ),
    { error: 'with bound_claims_type glob, every bound claim value must be a string' },
  );
export type JwtRoleInput = z.input<typeof JwtRoleSchema>;
export type JwtRole = z.output<typeof JwtRoleSchema>;
