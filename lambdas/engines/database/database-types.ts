import * as z from 'zod';
import { DurationSchema } from '../../core/duration.ts';
import { SecretNameSchema } from '../../core/secrets/secret-schema.ts';

/** Store partitions of the database engine. Nothing here is secret: admin credentials live in a Coffer secret. */
export const DB_CONFIG_PK = 'database/config';
export const DB_ROLE_PK = 'database/roles';

/** Names of connection configs and roles: they appear in lease ids, policy paths and (roles) usernames. */
export const DbObjectNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'must be 1-63 characters of a-z, 0-9, "_" and "-", starting with a letter or digit',
  );

export const DbConfigSchema = z
  .object({
    plugin: z.literal('postgres').default('postgres'),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65_535).default(5432),
    database: z.string().min(1).max(63),
    /** Name of the Coffer secret holding `{"username": ..., "password": ...}` of the admin user. */
    admin_secret: SecretNameSchema,
    /** Roles allowed to use this connection; `*` for any. */
    allowed_roles: z.array(z.string().min(1).max(63)).max(100).default(['*']),
    ssl: z.boolean().default(false),
    max_connections: z.number().int().min(1).max(50).default(4),
    /** Admin connection attempt timeout. */
    connect_timeout_ms: z.number().int().min(100).max(60_000).default(5000),
  })
  .strict();

export type DbConfig = z.infer<typeof DbConfigSchema>;
export type DbConfigInput = z.input<typeof DbConfigSchema>;

const Statement = z.string().min(1).max(4096);

export const PasswordPolicySchema = z
  .object({
    length: z.number().int().min(12).max(128).default(32),
    /** Minimum characters of each class; 0 leaves the class out entirely. */
    min_lower: z.number().int().min(0).max(64).default(1),
    min_upper: z.number().int().min(0).max(64).default(1),
    min_digits: z.number().int().min(0).max(64).default(1),
    min_symbols: z.number().int().min(0).max(64).default(0),
    /** Printable ASCII, no spaces. Quotes and backslashes are fine: passwords are always escaped as literals. */
    symbols: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]+$/, 'symbols must be printable ASCII punctuation')
      .default('!#%*+-.=?@^_~'),
  })
  .strict()
  .refine((p) => p.min_lower + p.min_upper + p.min_digits + p.min_symbols <= p.length, {
    message: 'the minimum counts of the character classes add up to more than the length',
  })
  .refine((p) => p.min_lower + p.min_upper + p.min_digits + p.min_symbols > 0, {
    message: 'at least one character class must be required',
  });

export type PasswordPolicy = z.infer<typeof PasswordPolicySchema>;

export const DEFAULT_CREATION = ['CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}'];
export const DEFAULT_RENEW = ['ALTER ROLE {{name}} VALID UNTIL {{expiration}}'];

export const DbRoleSchema = z
  .object({
    db_name: DbObjectNameSchema,
    creation_statements: z.array(Statement).min(1).max(20).default(DEFAULT_CREATION),
    /** Empty: the default revocation (disable login, end sessions, reassign and drop owned objects, drop the role). */
    revocation_statements: z.array(Statement).max(20).default([]),
    /** Empty: `ALTER ROLE ... VALID UNTIL` the new expiry. */
    renew_statements: z.array(Statement).max(20).default([]),
    username_template: z.string().min(1).max(128).default('v_{{role}}_{{random:8}}'),
    password_policy: PasswordPolicySchema.default({
      length: 32,
      min_lower: 1,
      min_upper: 1,
      min_digits: 1,
      min_symbols: 0,
      symbols: '!#%*+-.=?@^_~',
    }),
    default_ttl: DurationSchema.default(3600),
    max_ttl: DurationSchema.default(86_400),
    max_leases: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .refine((r) => r.default_ttl > 0 && r.max_ttl > 0, { message: 'default_ttl and max_ttl must be positive' })
  .refine((r) => r.default_ttl <= r.max_ttl, { message: 'default_ttl must not exceed max_ttl' });

export type DbRole = z.infer<typeof DbRoleSchema>;
export type DbRoleInput = z.input<typeof DbRoleSchema>;

/** The admin credential, as stored (JSON) in the Coffer secret named by `admin_secret`. */
export const AdminCredentialSchema = z.object({ username: z.string().min(1).max(63), password: z.string().min(1) });
export type AdminCredential = z.infer<typeof AdminCredentialSchema>;
