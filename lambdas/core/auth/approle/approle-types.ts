/**
 * AppRole, as Vault operators know it: a workload logs in with a role id (which role, not secret) and a secret id (a
 * credential issued for the role, with its own TTL, use count and CIDR bounds).
 */
import * as z from 'zod';
import { DurationSchema } from '../../duration.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import { CidrListSchema } from '../methods/cidrs.ts';

/** Store partitions of AppRole (keys start with the mount id: see `AuthMountRef.id`). */
export const APPROLE_PARTITIONS = {
  /** pk `approle-role-ids`, sk `<mount id>#<role id>` → `{ role }`: finds the role a login names. */
  roleIds: 'approle-role-ids',
  /**
   * `approle-secret-ids#<mount id>#<role name>#<role uid>`, sk `h#<sha256(secret id)>` → `SecretIdRecord`, and sk
   * `a#<accessor>` → `{ hash }`. Keyed by the role's uid, so a role deleted and written again never accepts the old
   * role's secret ids.
   */
  secretIdsPrefix: 'approle-secret-ids#',
} as const;

export const APPROLE_LIMITS = {
  policies: 64,
  numUses: 1_000_000,
  metaEntries: 64,
  metaKeyLength: 128,
  metaValueLength: 512,
  /** Longer than any role id or secret id we issue, so a foreign string fails like a wrong one, not here. */
  credentialLength: 256,
} as const;

const RoleIdSchema = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[A-Za-z0-9_.-]+$/, { error: 'must be 8-128 characters of A-Z, a-z, 0-9, _ . -' });

/** A role as `PUT /v1/auth/<mount>/role/<name>` takes it (Vault's field names); durations become seconds. */
export const AppRoleRoleSchema = z
  .strictObject({
    token_policies: z.array(PolicyNameSchema).max(APPROLE_LIMITS.policies).default([]),
    /** 0 = the token service's default. */
    token_ttl: DurationSchema.default(0),
    /** 0 = the token service's max. */
    token_max_ttl: DurationSchema.default(0),
    token_num_uses: z.number().int().min(0).max(APPROLE_LIMITS.numUses).default(0),
    token_bound_cidrs: CidrListSchema.default([]),
    /** 0 = secret ids never expire. */
    secret_id_ttl: DurationSchema.default(0),
    /** 0 = unlimited. */
    secret_id_num_uses: z.number().int().min(0).max(APPROLE_LIMITS.numUses).default(0),
    secret_id_bound_cidrs: CidrListSchema.default([]),
    bind_secret_id: z.boolean().default(true),
    /** Chosen by the writer, or generated on the role's first write; kept across rewrites that omit it. */
    role_id: RoleIdSchema.optional(),
  })
  .refine((role) => role.token_max_ttl === 0 || role.token_ttl <= role.token_max_ttl, {
    error: 'token_ttl must not exceed token_max_ttl',
    path: ['token_ttl'],
  })
  .refine((role) => role.bind_secret_id || role.secret_id_bound_cidrs.length > 0 || role.token_bound_cidrs.length > 0, {
    error: 'a role with bind_secret_id false must be bound by secret_id_bound_cidrs or token_bound_cidrs',
    path: ['bind_secret_id'],
  });
/** A role as stored: `role_uid` is generated on the role's first write, never by the writer (secret ids are keyed by it). */
export type AppRoleRole = z.infer<typeof AppRoleRoleSchema> & { readonly role_uid?: string };

/** AppRole mounts take no configuration. */
export const AppRoleConfigSchema = z.strictObject({});
export type AppRoleConfig = z.infer<typeof AppRoleConfigSchema>;

// No format checks on the credentials: a malformed one must fail like a wrong one, and messages never echo them.
export const AppRoleLoginSchema = z.strictObject({
  role_id: z.string().min(1).max(APPROLE_LIMITS.credentialLength),
  secret_id: z.string().min(1).max(APPROLE_LIMITS.credentialLength).optional(),
});
export type AppRoleLogin = z.infer<typeof AppRoleLoginSchema>;

const MetadataSchema = z
  .record(
    z
      .string()
      .min(1)
      .max(APPROLE_LIMITS.metaKeyLength)
      .regex(/^[A-Za-z0-9_.-]+$/),
    z.string().max(APPROLE_LIMITS.metaValueLength),
  )
  .refine((meta) => Object.keys(meta).length <= APPROLE_LIMITS.metaEntries, {
    error: `must have at most ${APPROLE_LIMITS.metaEntries} entries`,
  });

/** Body of `POST /v1/auth/<mount>/role/<name>/secret-id`. */
export const GenerateSecretIdSchema = z.strictObject({
  metadata: MetadataSchema.optional(),
  /** At most the role's `secret_id_ttl` (when it has one). @default the role's */
  ttl: DurationSchema.optional(),
  /** At most the role's `secret_id_num_uses` (when it has one). @default the role's */
  num_uses: z.number().int().min(0).max(APPROLE_LIMITS.numUses).optional(),
  /** Must lie within the role's `secret_id_bound_cidrs`. */
  cidr_list: CidrListSchema.optional(),
});
export type GenerateSecretIdRequest = z.infer<typeof GenerateSecretIdSchema>;

/** Bodies of `…/secret-id/lookup` and `…/secret-id-accessor/destroy|lookup`. */
export const SecretIdLookupSchema = z.strictObject({
  secret_id: z.string().min(1).max(APPROLE_LIMITS.credentialLength),
});
export const SecretIdAccessorSchema = z.strictObject({
  secret_id_accessor: z.string().min(1).max(APPROLE_LIMITS.credentialLength),
});

/** What is stored about a secret id: never the secret id itself, only its hash (as the item's key). */
export interface SecretIdRecord {
  readonly accessor: string;
  readonly metadata: Record<string, string>;
  readonly cidrList: string[];
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; null = never expires. */
  readonly expiresAt: number | null;
  /** Uses granted; 0 = unlimited. */
  readonly numUses: number;
  /** Uses left when `numUses > 0`. */
  readonly usesRemaining: number;
}

/** A generated secret id: `secretId` is shown exactly once. */
export interface GeneratedSecretId {
  readonly secretId: string;
  readonly accessor: string;
  readonly record: SecretIdRecord;
}
