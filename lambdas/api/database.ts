import * as z from 'zod';
import { GrantedBy, Instant } from './common.ts';

/** Database connections and roles. Admin credentials stay in the Coffer secret `admin_secret` names. */
export const DbConfig = z.object({
  name: z.string(),
  plugin: z.literal('postgres'),
  host: z.string(),
  port: z.number(),
  database: z.string(),
  admin_secret: z.string(),
  allowed_roles: z.array(z.string()),
  ssl: z.boolean(),
  max_connections: z.number(),
  connect_timeout_ms: z.number(),
  grant: z
    .object({ grantedBy: GrantedBy, requestId: z.string(), grantedAt: Instant, adminSecret: z.string() })
    .optional()
    .describe('Who pointed the connection at its admin secret'),
});

export const DbConfigList = z.object({ configs: z.array(z.string()) });

export const DbRole = z.object({
  name: z.string(),
  db_name: z.string(),
  creation_statements: z.array(z.string()),
  revocation_statements: z.array(z.string()),
  renew_statements: z.array(z.string()),
  username_template: z.string(),
  password_policy: z.object({
    length: z.number(),
    min_lower: z.number(),
    min_upper: z.number(),
    min_digits: z.number(),
    min_symbols: z.number(),
    symbols: z.string(),
  }),
  default_ttl: z.number().describe('Seconds'),
  max_ttl: z.number().describe('Seconds'),
  max_leases: z.number().optional(),
});

export const DbRoleList = z.object({ roles: z.array(z.string()) });

export const AwsRole = z.object({
  name: z.string(),
  role_arn: z.string(),
  policy_document: z.string().optional(),
  default_ttl: z.number().describe('Seconds'),
  max_ttl: z.number().describe('Seconds'),
  max_leases: z.number().optional(),
});

export const AwsRoleList = z.object({ roles: z.array(z.string()).describe('Role names, in name order') });
