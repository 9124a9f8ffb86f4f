import * as z from 'zod';
import { DurationSchema } from '../../core/duration.ts';

/** Leaf key types a role may ask for (`issue` generates one; `sign` requires the CSR's key to be of it). */
export const LEAF_KEY_TYPES = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ec-p256', 'ec-p384', 'ed25519'] as const;
export type LeafKeyType = (typeof LEAF_KEY_TYPES)[number];

export const KEY_USAGES = [
  'DigitalSignature',
  'ContentCommitment',
  'KeyEncipherment',
  'DataEncipherment',
  'KeyAgreement',
  'EncipherOnly',
  'DecipherOnly',
] as const;
export const EXT_KEY_USAGES = [
  'ServerAuth',
  'ClientAuth',
  'CodeSigning',
  'EmailProtection',
  'TimeStamping',
  'OCSPSigning',
] as const;

/** Kept for the PKI routes that import it from here; the schema itself is core's. */
export { DurationSchema };

/** A domain rule: a DNS name, or with `allow_glob_domains` a pattern where `*` matches any run of characters. */
const DomainRule = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9*._-]+$/, 'a domain holds letters, digits, "-", "_", "." and (for globs) "*"')
  .transform((s) => s.toLowerCase());

/**
 * A PKI role: which names a certificate may carry and what it looks like. Field names follow Vault's PKI roles so
 * existing role documents carry over. `key_type: 'any'` only makes sense for `sign` (any strong key in the CSR).
 */
export const PkiRoleSchema = z
  .object({
    allowed_domains: z.array(DomainRule).max(100).default([]),
    /** The domain itself (`example.com`) may be a name. @default false */
    allow_bare_domains: z.boolean().default(false),
    /** Any name under a domain (`a.b.example.com`, and the wildcard `*.example.com`). @default false */
    allow_subdomains: z.boolean().default(false),
    /** `allowed_domains` entries holding `*` are glob patterns. @default false */
    allow_glob_domains: z.boolean().default(false),
    /** IP addresses in `ip_sans`. @default false */
    allow_ip_sans: z.boolean().default(false),
    /** @default '24h' */
    ttl: DurationSchema.default(86_400),
    /** @default '72h' */
    max_ttl: DurationSchema.default(259_200),
    /** @default 'ec-p256' */
    key_type: z.enum([...LEAF_KEY_TYPES, 'any']).default('ec-p256'),
    /** @default ['DigitalSignature', 'KeyAgreement', 'KeyEncipherment'] */
    key_usage: z
      .array(z.enum(KEY_USAGES))
      .max(KEY_USAGES.length)
      .default(['DigitalSignature', 'KeyAgreement', 'KeyEncipherment']),
    /** @default ['ServerAuth', 'ClientAuth'] */
    ext_key_usage: z.array(z.enum(EXT_KEY_USAGES)).max(EXT_KEY_USAGES.length).default(['ServerAuth', 'ClientAuth']),
    /** Keep the generated private key, sealed, with the certificate. @default false */
    store_private_key: z.boolean().default(false),
  })
  .strict()
  .refine((role) => role.ttl <= role.max_ttl, { message: 'ttl must not exceed max_ttl', path: ['ttl'] })
  .refine((role) => role.max_ttl > 0, { message: 'max_ttl must be positive', path: ['max_ttl'] });

export type PkiRole = z.output<typeof PkiRoleSchema>;
export type PkiRoleInput = z.input<typeof PkiRoleSchema>;

export { ROLE_NAME } from '../shared/engine-roles.ts';
