import { X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { DurationSchema } from '../../duration.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import { CidrListSchema } from '../methods/cidrs.ts';

/** Bounds that keep a role small: it is read, and its certificates parsed, on every login. */
export const CERT_LIMITS = {
  certificates: 16,
  pemLength: 65_536,
  patterns: 64,
  patternLength: 1024,
  extensions: 32,
  policies: 64,
  crls: 16,
  crlLength: 1_048_576,
} as const;

/**
 * The certificates of a PEM bundle as separate PEM blocks, or undefined when the text holds anything that is not a
 * readable certificate. Every block must be a certificate: a stray private key pasted into a role must be refused,
 * not stored. Node's own parser checks them here, so the schema needs no X.509 library; the method parses the role
 * again with @peculiar/x509 (loaded at the first role write or login) before storing it.
 */
export function certificateBlocks(pem: string): string[] | undefined {
  const labels = pem.match(/-----BEGIN [^-]+-----/g) ?? [];
  if (labels.length === 0 || labels.some((label) => label !== '-----BEGIN CERTIFICATE-----')) return undefined;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== labels.length) return undefined;
  try {
    for (const block of blocks) new X509Certificate(block);
    return blocks;
  } catch {
    return undefined;
  }
}

/** Whether the text is one PEM block labelled as a CRL (`BEGIN X509 CRL`, or `BEGIN CRL`); the method parses it. */
export function isCrlPem(pem: string): boolean {
  const labels = pem.match(/-----BEGIN [^-]+-----/g) ?? [];
  // RFC 7468 says `X509 CRL`; some tools (@peculiar/x509 among them) write `CRL`.
  return labels.length === 1 && /^-----BEGIN (X509 )?CRL-----$/.test(labels[0]!);
}

export const CERTIFICATE_BUNDLE_ERROR = 'must be one or more PEM certificates (BEGIN CERTIFICATE) and nothing else';
export const CRL_ERROR = 'must be a PEM CRL (BEGIN X509 CRL)';

const PatternListSchema = z.array(z.string().min(1).max(CERT_LIMITS.patternLength)).max(CERT_LIMITS.patterns);

/** An extension OID the client certificate must carry (`1.2.3.4`, or Vault's `1.2.3.4:*`: any value). */
const RequiredExtensionSchema = z
  .string()
  .regex(/^[0-2](\.(0|[1-9]\d*))+(:\*)?$/, {
    error:
      'must be an OID such as 1.3.6.1.4.1.311.21.7, optionally followed by :* (matching on values is not supported)',
  })
  .transform((text) => text.replace(/:\*$/, ''));

/** The body of `POST /v1/auth/<mount>/login`: `{ name? }`, the role to try; absent: every role of the mount. */
export const CertLoginSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/, { error: 'must be a role name' })
    .optional(),
});
export type CertLogin = z.infer<typeof CertLoginSchema>;

/** A certificate mount has no settings of its own: every binding is on its roles. */
export const CertMountConfigSchema = z.strictObject({});
export type CertMountConfig = z.infer<typeof CertMountConfigSchema>;

/**
 * A role of a certificate mount (Vault's `auth/cert/certs/<name>`): the CA (or pinned leaf) certificates a client
 * certificate must chain to, the names it must carry (globs, `*` matching any run of characters, so
 * `spiffe://example.org/ns/*\/sa/*` binds SPIFFE IDs), and what the Coffer token it gets carries.
 */
export const CertRoleSchema = z
  .strictObject({
    /** PEM: one or more CA certificates (or pinned client certificates), each a trust anchor for this role. */
    certificate: z
      .string()
      .max(CERT_LIMITS.pemLength)
      .refine((pem) => certificateBlocks(pem) !== undefined, { error: CERTIFICATE_BUNDLE_ERROR })
      .refine((pem) => (certificateBlocks(pem)?.length ?? 0) <= CERT_LIMITS.certificates, {
        error: `must hold at most ${CERT_LIMITS.certificates} certificates`,
      }),
    allowed_common_names: PatternListSchema.default([]),
    allowed_dns_sans: PatternListSchema.default([]),
    allowed_email_sans: PatternListSchema.default([]),
    allowed_uri_sans: PatternListSchema.default([]),
    allowed_organizational_units: PatternListSchema.default([]),
    required_extensions: z.array(RequiredExtensionSchema).max(CERT_LIMITS.extensions).default([]),
    /**
     * CRLs (PEM) of the role's CAs, for CAs other than Coffer's own PKI (whose revocations are checked anyway): a
     * certificate they list is refused. Each must be signed by one of the role's certificates (checked on write).
     */
    crls: z
      .array(z.string().max(CERT_LIMITS.crlLength).refine(isCrlPem, { error: CRL_ERROR }))
      .max(CERT_LIMITS.crls)
      .default([]),
    token_policies: z.array(PolicyNameSchema).max(CERT_LIMITS.policies).default([]),
    /** 0: the token service's default. */
    token_ttl: DurationSchema.default(0),
    /** 0: the token service's maximum. */
    token_max_ttl: DurationSchema.default(0),
    token_num_uses: z.number().int().min(0).max(1_000_000).default(0),
    /** The Coffer token works only from these addresses. */
    token_bound_cidrs: CidrListSchema.default([]),
    /** Logins are accepted only from these addresses. */
    bound_cidrs: CidrListSchema.default([]),
  })
  .refine((r) => r.token_max_ttl === 0 || r.token_ttl <= r.token_max_ttl, {
    error: 'token_ttl must not exceed token_max_ttl',
    path: ['token_ttl'],
  });
export type CertRoleInput = z.input<typeof CertRoleSchema>;
export type CertRole = z.output<typeof CertRoleSchema>;
