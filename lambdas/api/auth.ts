import * as z from 'zod';
import { Instant, StringMap } from './common.ts';

/** An auth method mounted at `/v1/auth/<path>/`. */
export const AuthMount = z.object({
  path: z.string(),
  type: z.string().describe('The method: approle, …'),
  description: z.string(),
  config: z.record(z.string(), z.unknown()),
  accessor: z.string().describe('The mount id: unique per enable (a path enabled again gets another)'),
  createdAt: Instant,
  user_lockout_config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('The login lockout as set (absent: the defaults, where the method locks out)'),
});
export type AuthMount = z.infer<typeof AuthMount>;

export const AuthMountList = z.object({ mounts: z.array(AuthMount) });
export type AuthMountList = z.infer<typeof AuthMountList>;

export const AuthMountDisabled = z.object({
  path: z.string(),
  revokedTokens: z.number().describe('Tokens issued by logins through the mount, now revoked'),
});

/** A login's answer, in Vault's shape (`auth`), so Vault clients and scripts read it as they are. */
export const LoginResponse = z.object({
  auth: z.object({
    client_token: z.string().describe('The token: shown once'),
    accessor: z.string(),
    policies: z.array(z.string()),
    token_policies: z.array(z.string()),
    metadata: StringMap.describe('Identity metadata: role_name and the secret id metadata, say'),
    lease_duration: z.number().describe('Seconds until the token expires'),
    renewable: z.boolean(),
    num_uses: z.number().describe('0: unlimited'),
    mount_type: z.string(),
    mount_path: z.string(),
    role_name: z.string(),
  }),
});
export type LoginResponse = z.infer<typeof LoginResponse>;

/** A role of an auth mount, as its method shows it (AppRole: Vault's field names, durations in seconds). */
export const AuthRole = z.object({ name: z.string(), mount: z.string(), role: z.record(z.string(), z.unknown()) });
export type AuthRole = z.infer<typeof AuthRole>;

export const AuthRoleList = z.object({ roles: z.array(z.string()) });

export const AppRoleRoleId = z.object({ role_id: z.string() });

/** A generated secret id: shown once, never stored (only its hash). */
export const AppRoleSecretIdCreated = z.object({
  secret_id: z.string(),
  secret_id_accessor: z.string(),
  secret_id_ttl: z.number().describe('Seconds; 0: never expires'),
  secret_id_num_uses: z.number().describe('0: unlimited'),
});
export type AppRoleSecretIdCreated = z.infer<typeof AppRoleSecretIdCreated>;

/** What is known about a secret id: never the secret id itself. */
export const AppRoleSecretIdDescription = z.object({
  secret_id_accessor: z.string(),
  metadata: StringMap,
  cidr_list: z.array(z.string()),
  creation_time: Instant,
  expiration_time: Instant.nullable().describe('null: never expires'),
  secret_id_num_uses: z.number(),
  secret_id_uses_remaining: z.number().describe('Meaningful only when secret_id_num_uses > 0'),
});

/** An LDAP mount's group or user entry (Vault's `auth/<mount>/groups|users/<name>`). */
export const LdapEntryView = z.object({
  name: z.string(),
  mount: z.string(),
  kind: z.enum(['group', 'user']),
  policies: z.array(z.string()),
  groups: z.array(z.string()).optional().describe('A user entry: groups it is in besides its directory groups'),
});
export type LdapEntryView = z.infer<typeof LdapEntryView>;

export const LdapEntryList = z.object({ names: z.array(z.string()) });
export type LdapEntryList = z.infer<typeof LdapEntryList>;

/** The login methods a sign-in page offers: mount and method only, nothing of their configuration or roles. */
export const LoginMethods = z.object({
  methods: z.array(z.object({ path: z.string(), type: z.string().describe('approle, jwt, kubernetes, cert, ldap') })),
});
export type LoginMethods = z.infer<typeof LoginMethods>;
