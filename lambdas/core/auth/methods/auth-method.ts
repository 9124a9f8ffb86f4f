/**
 * The contract every auth method (AppRole, JWT/OIDC, …) implements. A method is mounted at `/v1/auth/<mount>/` once
 * or more (`AuthMountService`); its roles are stored by the framework and validated by the method's `roleSchema`; its
 * `login` checks the presented credential and answers a `LoginOutcome`, from which the broker mints an orphan token.
 *
 * A method never mints tokens, never audits and never sees HTTP: it decides who the caller is and what the matched
 * role grants. Everything it returns is safe to store and audit: no credential material, ever.
 */
import type * as z from 'zod';
import type { CertificateRevocation } from '../../ports/certificate-revocation.ts';
import type { Clock } from '../../ports/clock.ts';
import type { KubernetesTokenReviewer } from '../../ports/kubernetes-token-review.ts';
import type { LdapDirectory } from '../../ports/ldap-directory.ts';
import type { ItemData, Store, WriteOp } from '../../ports/store.ts';

/** What a method may use. Built once per composition and handed to every method's `create`. */
export interface AuthMethodDeps {
  readonly store: Store;
  readonly clock: Clock;
  /**
   * A fetch that reaches only the allow-listed egress targets (the egress guard): the one way a method may call out
   * (JWKS, OIDC discovery). Absent when the runtime has no egress guard; a method that needs it then fails closed.
   */
  readonly egressFetch?: typeof fetch | undefined;
  /**
   * The cluster's TokenReview API, reached through the egress guard (the Kubernetes method's TokenReview mode). Absent
   * on a runtime that cannot call a cluster (AWS Lambda): TokenReview mounts then refuse logins with a 400.
   */
  readonly kubernetesTokenReview?: KubernetesTokenReviewer | undefined;
  /**
   * Whether Coffer's own PKI engine revoked a certificate it issued (certificate login). Absent when the runtime has
   * no PKI engine; certificates are then checked on their dates and chain alone.
   */
  readonly certificateRevocation?: CertificateRevocation | undefined;
  /**
   * Connections to LDAP directories, only to allow-listed targets (the adapter dials through the egress guard).
   * Absent where the runtime cannot reach one (the broker Lambda outside a VPC): the LDAP method then refuses mounts.
   */
  readonly ldap?: LdapDirectory | undefined;
  /** Why `ldap` is absent, for the refusal of `auth enable ldap`. @default a message about the broker's VPC */
  readonly ldapUnavailable?: string | undefined;
}

/** The mount a login or role operation addresses. */
export interface AuthMountRef<Config> {
  /** The path segment under `/v1/auth/`, e.g. `approle` or `ci-approle`. */
  readonly path: string;
  /**
   * Unique per enable: keys of the mount's roles and of method state (secret ids) start with it, so disabling a mount
   * and enabling another at the same path never resurrects the old one's roles or credentials.
   */
  readonly id: string;
  readonly config: Config;
}

/** Facts about the login request a method may test (bound CIDRs). */
export interface LoginContext {
  readonly sourceIp: string;
  /** Epoch ms. */
  readonly now: number;
  readonly requestId: string;
  /**
   * The DER of the TLS client certificate the transport verified (the local listener's client CA, API Gateway's mTLS
   * truststore); absent without mTLS. Never taken from anything a client merely sent.
   */
  readonly clientCertificate?: Uint8Array | undefined;
}

/** Reads the mount's roles (stored by the framework, already validated by the method's `roleSchema`). */
export interface RoleReader<Role> {
  get(name: string): Promise<Role | undefined>;
  /** Every role name of the mount, in a stable order (for methods that try each role, as certificate login does). */
  list?(): Promise<string[]>;
}

/**
 * What a successful login grants. The broker mints an orphan token from it with `auth/<mount>` identity metadata.
 * Holds no credential material: it is stored in the token's labels and audited.
 */
export interface LoginOutcome {
  /** The matched role's name. */
  readonly role: string;
  readonly policies: readonly string[];
  /** Token TTL in seconds; undefined = the token service's default (capped by `maxTtlSeconds`). */
  readonly ttlSeconds?: number | undefined;
  /** Hard limit for renewal in seconds; undefined = the token service's max TTL. */
  readonly maxTtlSeconds?: number | undefined;
  /** Uses of the token; 0 = unlimited. */
  readonly numUses: number;
  /** Identity metadata (templated policies see it as `principal.metadata.*`); never credential material. */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * Who logged in, within the mount (a role id, a JWT `sub`): stable across logins of the same workload. Not recorded
   * yet: tokens are named `<mount>/<role>`, because an alias may be half a credential (AppRole's role id) and the
   * token's name is shown in clear; it is for identity aliases, which will keep it only as its HMAC.
   */
  readonly alias: string;
  /** The token works only from these source addresses (`token_bound_cidrs`); empty or absent = anywhere. */
  readonly boundCidrs?: readonly string[] | undefined;
  /**
   * The roles whose grants the outcome unites, when a login matches several (LDAP: the user's groups and entry): the
   * ceilings of all their writers bind the token. @default the last role the login read
   */
  readonly grantedBy?: readonly string[] | undefined;
}

/** The result of `prepareRole`: the role to store and extra writes (indexes) committed in the same transaction. */
export interface PreparedRole<Role> {
  readonly role: Role;
  readonly ops: readonly WriteOp[];
}

/** A role write as the framework hands it to a method's `prepareRole`. */
export interface RoleWrite<Config, Role> {
  readonly mount: AuthMountRef<Config>;
  readonly name: string;
  /** The role as the caller wrote it (parsed by `roleSchema`). */
  readonly role: Role;
  /** The stored role it replaces, if any. */
  readonly previous: Role | undefined;
}

/**
 * An auth method, once built from its deps.
 * @typeParam Config the mount's configuration (`coffer auth enable … --config`)
 * @typeParam Role a role as stored
 * @typeParam Login the body of `POST /v1/auth/<mount>/login`
 */
export interface AuthMethod<Config extends ItemData, Role extends ItemData, Login> {
  /** The method's type as `coffer auth enable <type>` names it; equals its registry key. */
  readonly type: string;
  /** One line for `coffer auth list` and the docs. */
  readonly summary: string;
  readonly configSchema: z.ZodType<Config>;
  /** A role as written by `PUT /v1/auth/<mount>/role/<name>`: strict, every default filled. */
  readonly roleSchema: z.ZodType<Role>;
  /** The login body. Its parse errors must never echo credential values. */
  readonly loginSchema: z.ZodType<Login>;
  /**
   * Config fields that are credentials (a TokenReview reviewer token, an LDAP bind password): the mount service keeps
   * them sealed under the mount's own data key, shows them only as `<field>_set: true`, and hands them to `login`
   * alone. @default none
   */
  readonly sealedConfig?: readonly string[];
  /** The policies a role grants: its writer must hold each of them and they must exist (derived-credentials.ts). */
  rolePolicies(role: Role): readonly string[];
  /**
   * Completes a role before it is stored (a generated role id) and returns writes to commit with it (an index).
   * @default the role as written, no extra writes
   */
  prepareRole?(write: RoleWrite<Config, Role>): Promise<PreparedRole<Role>>;
  /** Writes that remove the method's state of a deleted role (indexes), committed with the role's deletion. */
  roleDeleteOps?(mount: AuthMountRef<Config>, name: string, role: Role): readonly WriteOp[];
  /** What `GET …/role/<name>` shows of a stored role. @default the role itself */
  describeRole?(role: Role): ItemData;
  /** What `GET /v1/sys/auth` shows of a mount's configuration (without credentials). @default the configuration */
  describeConfig?(config: Config): ItemData;
  /**
   * Checks the presented credential against the mount's roles.
   * @throws PermissionDeniedError (403) or ValidationError (400) with one message per kind of failure that never
   *   tells which part of the credential was wrong (a wrong role id and a wrong secret id answer alike).
   */
  login(
    mount: AuthMountRef<Config>,
    body: Login,
    roles: RoleReader<Role>,
    context: LoginContext,
  ): Promise<LoginOutcome>;
}

/** Builds a method from its deps: what the registry holds. */
export interface AuthMethodFactory<Config extends ItemData, Role extends ItemData, Login> {
  readonly type: string;
  create(deps: AuthMethodDeps): AuthMethod<Config, Role, Login>;
}

/** Any method, for code that handles them alike (the mount service, the routes). */
// biome-ignore lint/suspicious/noExplicitAny: a registry of methods of different types is heterogeneous by design
export type AnyAuthMethod = AuthMethod<any, any, any>;
