import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { RATE_LIMIT_COUNTER_PREFIXES } from '../../lambdas/adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts';
import { SealedCaKeyStore } from '../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { MemoryRateLimitCounters } from '../../lambdas/adapters/local/rate-limits/memory-rate-limit-counters.ts';
import { MemoryAuditSink } from '../../lambdas/adapters/memory/memory-audit-sink.ts';
import { MemoryStore } from '../../lambdas/adapters/memory/memory-store.ts';
import { Broker } from '../../lambdas/broker/broker.ts';
import type { AccessDecision, BrokerDeps } from '../../lambdas/broker/broker-deps.ts';
import type { BrokerRequest, BrokerResponse } from '../../lambdas/broker/http-types.ts';
import type { AccessCheck, RouteDef } from '../../lambdas/broker/route.ts';
import { API_VERSION, nativeRoutes } from '../../lambdas/broker/routes/index.ts';
import { AuditHasher } from '../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../lambdas/core/audit/audit-log.ts';
import { AUDIT_DEVICE_PARTITION, AuditDeviceService } from '../../lambdas/core/audit/devices/audit-device-service.ts';
import { APPROLE_PARTITIONS } from '../../lambdas/core/auth/approle/approle-types.ts';
import { IAM_PRINCIPAL_PARTITION, IamPrincipalService } from '../../lambdas/core/auth/iam/iam-principal-service.ts';
import { AUTH_MOUNT_PARTITIONS, AuthMountService } from '../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../lambdas/core/auth/methods/registry.ts';
import { AccessKeyService } from '../../lambdas/core/auth/sigv4/access-key-service.ts';
import { ACCESS_KEY_PARTITION } from '../../lambdas/core/auth/sigv4/access-key-types.ts';
import { SigV4Verifier } from '../../lambdas/core/auth/sigv4/sigv4-verifier.ts';
import { hashToken, TokenService } from '../../lambdas/core/auth/token/token-service.ts';
import { TOKEN_PARTITIONS, type TokenRecord } from '../../lambdas/core/auth/token/token-types.ts';
import { ComplianceService } from '../../lambdas/core/compliance/compliance-service.ts';
import { computeReportLazily } from '../../lambdas/core/compliance/compute-report.ts';
import { COMPLIANCE_PARTITION } from '../../lambdas/core/compliance/stored-report.ts';
import { CLAIM_PARTITION } from '../../lambdas/core/coordination/claims.ts';
import { LeaseService } from '../../lambdas/core/leases/lease-service.ts';
import { DUE_PK, FAILED_PK, LEASE_PK, PREFIX_JOB_PK, QUOTA_PK } from '../../lambdas/core/leases/lease-types.ts';
import { POLICY_PARTITION, PolicyService } from '../../lambdas/core/policy/policy-service.ts';
import type { Capability } from '../../lambdas/core/policy/policy-types.ts';
import type { Clock } from '../../lambdas/core/ports/clock.ts';
import type { RotationLauncher } from '../../lambdas/core/ports/rotation.ts';
import type { ItemData, Page, QueryOptions, Store, StoredItem, WriteOp } from '../../lambdas/core/ports/store.ts';
import { QuotaService } from '../../lambdas/core/quota/quota-service.ts';
import { RATE_LIMIT_QUOTA_PARTITION } from '../../lambdas/core/quota/quota-types.ts';
import {
  REVOCATION_PK,
  ROTATION_CONFIG_PK,
  ROTATION_GROUP_PK,
  ROTATION_LOCK_PK,
  ROTATION_PK,
} from '../../lambdas/core/rotation/rotation-records.ts';
import { RotationService } from '../../lambdas/core/rotation/rotation-service.ts';
import {
  EXPIRY_INDEX_PARTITION,
  EXPIRY_STATE_PARTITION,
  parseExpiryIndexKey,
} from '../../lambdas/core/secrets/expiration/expiry-index.ts';
import { SECRET_REGIONS_PARTITION } from '../../lambdas/core/secrets/replication/replica-marking-store.ts';
import { REPLICATION_PARTITION } from '../../lambdas/core/secrets/replication/replication-index.ts';
import type { SecretReplicator } from '../../lambdas/core/secrets/replication/secret-replicator.ts';
import {
  CREATION_ORDER_COMPLETE,
  CREATION_ORDER_PARTITION,
  nameInCreationOrderKey,
} from '../../lambdas/core/secrets/secret-creation-order.ts';
import {
  DELETION_INDEX_COMPLETE,
  DELETION_INDEX_PARTITION,
  parseDeletionIndexKey,
} from '../../lambdas/core/secrets/secret-deletion-index.ts';
import type { SecretService } from '../../lambdas/core/secrets/secret-service.ts';
import { SECRETS_PARTITION } from '../../lambdas/core/secrets/secret-types.ts';
import { ResponseWrapping, WRAPPING_PARTITION } from '../../lambdas/core/wrapping/response-wrapping.ts';
import { AWS_ROLE_PK, AwsEngine } from '../../lambdas/engines/aws/aws-engine.ts';
import { DatabaseEngine } from '../../lambdas/engines/database/database-engine.ts';
import { DB_CONFIG_PK, DB_ROLE_PK } from '../../lambdas/engines/database/database-types.ts';
import type { DatabasePlugin } from '../../lambdas/engines/database/postgres/postgres-plugin.ts';
import { OAUTH_CONFIG_PK, OAUTH_ROLE_PK, OAUTH_TOKEN_PK } from '../../lambdas/engines/oauth/oauth-records.ts';
import { OAuthService } from '../../lambdas/engines/oauth/oauth-service.ts';
import { PkiService } from '../../lambdas/engines/pki/pki-service.ts';
import { API_KEY_PARTITION, ApiKeyRegistry } from '../../lambdas/engines/rotation/api-key/api-key-registry.ts';
import { createRotators } from '../../lambdas/engines/rotation/registry.ts';
import { PostgresSessions } from '../../lambdas/engines/shared/postgres/postgres-sessions.ts';
import { SshService } from '../../lambdas/engines/ssh/ssh-service.ts';
import { issuedCertificates } from '../../lambdas/entrypoints/compose-services.ts';
import { FakeKeyProvider } from './fake-key-provider.ts';
import { fakeLdapDirectory, LDAP_FIXTURE_ENTRIES } from './fake-ldap-directory.ts';
import { fakeOAuthFetch } from './fake-oauth-fetch.ts';
import { MemoryKeyRing } from './memory-key-ring.ts';
import { regionalSecretsDeps } from './regional-secrets.ts';
import { RecordingEvents, RecordingSchedules } from './rotation-harness.ts';

/**
 * The authorisation harness of security issue #11: a broker on in-memory adapters (every service the broker can
 * serve, engines faked at their outer edge only) whose store records, per request, every record the request read or
 * wrote, and a checker that holds each touched record against the access decisions that request was granted.
 *
 * Three parts, each meant to be read on its own:
 * - {@link TracingStore} and {@link Tracer}: which request (AsyncLocalStorage, entered through the broker's
 *   `requestScope`) touched which record, and in which phase (authentication and policy evaluation are the broker's
 *   own reads, not the route's).
 * - {@link PARTITIONS}: every store partition, mapped to the policy resource its records belong to. A partition
 *   missing here fails the test that touches it, so a new partition has to be classified before it ships.
 * - {@link unauthorisedTouches}: the coverage rules (the table in its comment).
 */

// ---- tracing -------------------------------------------------------------------------------------------------

export type TouchKind = 'read' | 'write';

export interface Touch {
  readonly kind: TouchKind;
  readonly op: 'get' | 'query' | 'put' | 'delete' | 'check';
  readonly pk: string;
  readonly sk: string;
  /** Set while the broker authenticates or evaluates policy, or an engine uses what its configurer was granted. */
  readonly phase: Phase | undefined;
  /** What the record is, decided when it was touched (before a write applies, after a read returns). */
  readonly class: RecordClass;
}

/** The caller of a request, learnt when the broker authenticates its token. */
export interface Caller {
  readonly accessor: string;
  readonly tokenHash: string;
  readonly policies: readonly string[];
}

export interface RequestTrace {
  readonly requestId: string;
  caller: Caller | undefined;
  readonly touches: Touch[];
  readonly decisions: AccessDecision[];
}

/**
 * Phases in which touches are the broker's or an engine's, not the route handler's. Each is entered by wrapping one
 * method of one dependency (see {@link buildAuthzWorld}), never by a partition name, so a route that reads the same
 * records itself is still checked.
 */
export const PHASES = {
  authn: "authentication: the broker reads (and, for a use-limited token, spends a use of) the caller's own token",
  'policy-eval': "policy evaluation: the broker reads the caller's policy documents and a secret's resource policy",
  migration:
    "a one-time migration of the store's own layout (indexing the secrets that predate the creation-order index), " +
    "which the first listing runs: not the caller's reading or writing",
  login:
    "an auth method's login: the credential presented is the authority (no token, no policy); it reads the mount, " +
    'its role and credential, spends the credential and mints the token',
  wrapping:
    'response wrapping: the wrapping token presented is the authority (no token, no policy); it seals, reads and ' +
    'deletes only the one answer the token names',
  quota: 'rate-limit quotas: the broker reads every quota definition to find the limit of the request, before it runs',
  'engine-delegated':
    "an engine reads a secret under a grant recorded in a stored config (its writer's authority, checked by the route's " +
    "`references`), not the caller's: covered only by a config the same request read that delegates that secret",
} as const;
export type Phase = keyof typeof PHASES;

interface Scope {
  readonly trace: RequestTrace;
  readonly phase: Phase | undefined;
}

export class Tracer {
  readonly #als = new AsyncLocalStorage<Scope>();
  readonly traces = new Map<string, RequestTrace>();

  /** BrokerDeps.requestScope: every store call made while `fn` runs (and what it starts) belongs to `requestId`. */
  readonly requestScope = <T>(requestId: string, fn: () => Promise<T>): Promise<T> => {
    const trace: RequestTrace = { requestId, caller: undefined, touches: [], decisions: [] };
    this.traces.set(requestId, trace);
    return this.#als.run({ trace, phase: undefined }, fn);
  };

  /** BrokerDeps.onAccessDecision. */
  readonly onAccessDecision = (decision: AccessDecision): void => {
    this.traces.get(decision.requestId)?.decisions.push(decision);
  };

  current(): Scope | undefined {
    return this.#als.getStore();
  }

  /** Runs `fn` in `phase` inside the current request, if any. */
  inPhase<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    const scope = this.#als.getStore();
    if (scope === undefined) return fn();
    return this.#als.run({ ...scope, phase }, fn);
  }

  /** Wraps `method` of `target` (by instance property) so that its store calls are attributed to `phase`. */
  wrapInPhase<T extends object, K extends keyof T & string>(target: T, method: K, phase: Phase): void {
    const original = target[method] as unknown as (...args: unknown[]) => Promise<unknown>;
    const bound = original.bind(target);
    (target as Record<string, unknown>)[method] = (...args: unknown[]) => this.inPhase(phase, () => bound(...args));
  }
}

/**
 * A `Store` that records every record each request touches, classified at the moment of the touch (so a write is
 * classified before it applies, e.g. a token's ancestry before a revocation deletes it).
 */
export class TracingStore implements Store {
  constructor(
    readonly inner: Store,
    private readonly tracer: Tracer,
  ) {}

  async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    const item = await this.inner.get<T>(pk, sk);
    await this.record('get', 'read', pk, sk, item?.data);
    return item;
  }

  async query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>> {
    const page = await this.inner.query<T>(pk, options);
    for (const item of page.items) await this.record('query', 'read', pk, item.sk, item.data);
    return page;
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') await this.record('put', 'write', op.pk, op.sk, op.data);
      else {
        const existing = (await this.inner.get(op.pk, op.sk))?.data;
        await this.record(op.type, op.type === 'check' ? 'read' : 'write', op.pk, op.sk, existing);
      }
    }
    await this.inner.transact(ops);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async record(op: Touch['op'], kind: TouchKind, pk: string, sk: string, data: ItemData | undefined) {
    const scope = this.tracer.current();
    if (scope === undefined) return;
    // The broker's own phases need no classification; an engine's delegated reads are checked against delegations.
    const cls: RecordClass =
      scope.phase !== undefined && scope.phase !== 'engine-delegated'
        ? { kind: 'system', reason: PHASES[scope.phase] }
        : await classify({ touch: kind, pk, sk, data, caller: scope.trace.caller, store: this.inner });
    scope.trace.touches.push({ kind, op, pk, sk, phase: scope.phase, class: cls });
  }
}

// ---- classification ------------------------------------------------------------------------------------------

/**
 * An extra way to be allowed to touch a record: an allowed decision on a path other than the record's own. Used for
 * routes whose policy path names an action rather than the record (`pki/issue/<role>` reads the role
 * `pki/roles/<role>`; `auth/token/lookup` reads any token) and for aggregate views (`sys/rotation/status`).
 */
export interface Grant {
  readonly capabilities: readonly Exclude<Capability, 'deny'>[];
  readonly touches: readonly TouchKind[];
  /** Whether a decision on `path` is one this grant names. */
  readonly matches: (path: string) => boolean;
  readonly why: string;
}

export type RecordClass =
  /** Bookkeeping with no policy resource of its own (counters, indexes, audit outbox). */
  | { readonly kind: 'system'; readonly reason: string }
  /** The caller's own identity: its token, its child tokens, its own policy documents. */
  | { readonly kind: 'self'; readonly reason: string }
  /** A read that found nothing, of a record whose resource is only known from its data: no record was read. */
  | { readonly kind: 'absent' }
  /** A user resource: touching it needs a decision on one of `paths` (all of them, for a record of several) or a grant. */
  | {
      readonly kind: 'resource';
      readonly paths: readonly string[];
      readonly grants: readonly Grant[];
      /** Published to anyone (unauthenticated routes serve it): reads need no decision. */
      readonly publicRead?: string;
      /** Paths an engine may read under the grant stored in this record (see `engine-delegated`). */
      readonly delegates?: readonly string[];
    }
  /** A partition missing from {@link PARTITIONS}: always a failure. */
  | { readonly kind: 'unclassified' };

interface ClassifyInput {
  readonly touch: TouchKind;
  readonly pk: string;
  readonly sk: string;
  readonly data: ItemData | undefined;
  readonly caller: Caller | undefined;
  /** The untraced store, for what classification itself must read (a token's ancestry). */
  readonly store: Store;
}

export interface PartitionRule {
  /** The partition, or the prefix of a family of partitions (`secret-versions#<arn>`). */
  readonly pk: string;
  readonly prefix?: boolean;
  readonly classify: (input: ClassifyInput) => RecordClass | Promise<RecordClass>;
}

const resource = (
  paths: readonly string[],
  grants: readonly Grant[] = [],
  publicRead?: string,
  delegates?: readonly string[],
): RecordClass => ({
  kind: 'resource',
  paths,
  grants,
  ...(publicRead === undefined ? {} : { publicRead }),
  ...(delegates === undefined ? {} : { delegates }),
});

const exactly = (path: string) => (p: string) => p === path;
/** The compliance report reads (never writes) what it aggregates: names, tags, dates and counts, never a value. */
const COMPLIANCE_REPORT: Grant = {
  capabilities: ['read'],
  touches: ['read'],
  matches: exactly('sys/compliance'),
  why: 'the compliance report aggregates every secret, token, rotation and issued certificate',
};
/** A decision on `ancestor` covers `path` when it is `path` or a folder above it. */
export const within = (path: string, ancestor: string): boolean => path === ancestor || path.startsWith(`${ancestor}/`);
const WRITE: readonly Exclude<Capability, 'deny'>[] = ['create', 'update', 'delete', 'rotate', 'sudo'];

/** The secret name inside an ARN `arn:…:secret:<name>-<6 chars>`. */
function secretNameOfArn(arn: string): string {
  const at = arn.indexOf(':secret:');
  const tail = at < 0 ? arn : arn.slice(at + ':secret:'.length);
  return tail.replace(/-[A-Za-z0-9]{6}$/, '');
}

/** A mount id is `<mount path>.<random>`. */
const mountPathOfId = (id: string): string => id.slice(0, id.lastIndexOf('.'));

/** Reads by any decision at or below `ancestor`. */
const readWithin = (ancestor: string, why: string): Grant => ({
  capabilities: ['read', 'list', 'create', 'update', 'delete', 'sudo'],
  touches: ['read'],
  matches: (p) => within(p, ancestor),
  why,
});

/** One path is the other or a folder above it, either way round (a lease id below a role; a prefix above it). */
const related = (a: string, b: string): boolean => within(a, b) || within(b, a);

/** Root-key rotation re-wraps every sealed record; `sys/keyring/rotate` (sudo) is what allows it. */
const REWRAP: Grant = {
  capabilities: ['sudo'],
  touches: ['read', 'write'],
  matches: exactly('sys/keyring/rotate'),
  why: 'root-key rotation re-wraps every data key',
};

/** PKI operations that sign with a CA key (and so read the CA record and its sealed key). */
const PKI_SIGNERS: Grant = {
  capabilities: ['create', 'update'],
  touches: ['read'],
  matches: (p) =>
    /^pki\/(issue|sign)\/[^/]+$/.test(p) || ['pki/root', 'pki/intermediate', 'pki/revoke', 'pki/tidy'].includes(p),
  why: 'issuing, signing, revoking and tidying sign with a CA key (a certificate or a new CRL)',
};

/** Operations that add certificates to the index, revoke them or tidy them away. */
const PKI_CERT_WRITERS: Grant = {
  capabilities: ['create', 'update'],
  touches: ['read', 'write'],
  matches: (p) =>
    /^pki\/(issue|sign)\/[^/]+$/.test(p) || ['pki/root', 'pki/intermediate', 'pki/revoke', 'pki/tidy'].includes(p),
  why: 'issued certificates are indexed; revoke and tidy change the index and the CRL',
};

/** Lease operations on lease `leaseId` (`<engine>/creds/<role>/<id>`), as the lease routes authorise them. */
function leaseGrants(leaseId: string): Grant[] {
  return [
    {
      capabilities: ['read', 'list'],
      touches: ['read'],
      matches: (p) => p.startsWith('sys/leases/lookup') && within(`sys/leases/lookup/${leaseId}`, p),
      why: 'lease lookup and listing',
    },
    {
      capabilities: ['update'],
      touches: ['read', 'write'],
      matches: (p) => p === `sys/leases/renew/${leaseId}` || p === `sys/leases/revoke/${leaseId}`,
      why: 'renewing or revoking this lease',
    },
    {
      capabilities: ['sudo'],
      touches: ['read', 'write'],
      matches: (p) =>
        p.startsWith('sys/leases/revoke-prefix/') && within(leaseId, p.slice('sys/leases/revoke-prefix/'.length)),
      why: 'revoking every lease under a prefix',
    },
    {
      capabilities: ['read', 'update'],
      touches: ['read', 'write'],
      matches: (p) => /^[a-z]+\/(creds|sign)\/[^/]+$/.test(p) && within(leaseId, p),
      why: 'issuing a credential (or signing a key) creates its lease',
    },
  ];
}

function delegatedAdminSecret(data: ItemData | undefined): string[] {
  const config = data as { admin_secret?: string; grant?: { adminSecret?: string } } | undefined;
  const secret = config?.admin_secret;
  return secret !== undefined && config?.grant?.adminSecret === secret ? [`secrets/${secret}`] : [];
}

/** `accessor` and its ancestors, nearest first (a token's parent is in its record). */
async function lineage(store: Store, accessor: string | undefined): Promise<string[]> {
  const out: string[] = [];
  for (let depth = 0; accessor !== undefined && depth < 64; depth++) {
    out.push(accessor);
    const link = await store.get<{ tokenHash: string }>(TOKEN_PARTITIONS.accessors, accessor);
    if (link === undefined) break;
    const token = await store.get(TOKEN_PARTITIONS.tokens, link.data.tokenHash);
    accessor = (token?.data as TokenRecord | undefined)?.parentAccessor;
  }
  return out;
}

/** Token records not the caller's own are governed by the token routes' action paths. */
const TOKEN_ADMIN: Grant[] = [
  { capabilities: ['create'], touches: ['write'], matches: exactly('auth/token/create'), why: 'creating a token' },
  { capabilities: ['read'], touches: ['read'], matches: exactly('auth/token/lookup'), why: 'looking any token up' },
  {
    capabilities: ['update'],
    touches: ['read', 'write'],
    matches: (p) => p === 'auth/token/renew' || p === 'auth/token/revoke',
    why: 'renewing or revoking any token',
  },
  {
    capabilities: ['delete'],
    touches: ['read', 'write'],
    matches: (p) => /^sys\/auth\/[^/]+$/.test(p),
    why: 'disabling an auth mount scans the tokens for those its logins issued, and revokes them',
  },
];

/**
 * A token record is the caller's when it is the caller's token or a descendant (which dies with it); the caller may
 * read (never write) its ancestors, whose expiry caps its own renewal. Any other token is an admin's business.
 */
async function classifyToken(input: ClassifyInput, accessors: readonly (string | undefined)[]): Promise<RecordClass> {
  const caller = input.caller;
  if (caller !== undefined) {
    for (const accessor of accessors) {
      if (accessor === undefined) continue;
      if ((await lineage(input.store, accessor)).includes(caller.accessor)) {
        return { kind: 'self', reason: "the caller's own token or one it created (revoked with it)" };
      }
    }
    const ancestors = await lineage(input.store, caller.accessor);
    if (input.touch === 'read' && accessors.some((a) => a !== undefined && ancestors.includes(a))) {
      return { kind: 'self', reason: "an ancestor of the caller's token: its expiry caps the caller's" };
    }
  }
  return resource([], TOKEN_ADMIN);
}

/**
 * Every store partition and the policy resource its records belong to. Sources: the `*_PK` / `*_PARTITION`
 * constants of `lambdas/core/**` and `lambdas/engines/**`, and `SealedCaKeyStore`.
 */
export const PARTITIONS: readonly PartitionRule[] = [
  // The enabled audit devices, one item: every audited request reads it to know where its records go; enabling or
  // disabling any device rewrites it, under `sudo` on that device's path.
  {
    pk: AUDIT_DEVICE_PARTITION,
    classify: ({ touch }) =>
      touch === 'read'
        ? { kind: 'system', reason: 'the enabled audit devices, read before any record is written' }
        : resource(
            ['sys/audit-devices'],
            [
              {
                capabilities: ['sudo'],
                touches: ['write'],
                matches: (p) => within(p, 'sys/audit-devices'),
                why: 'enabling or disabling a device rewrites the one item listing them all',
              },
            ],
          ),
  },
  // The report the compliance function stored (AWS): an auditor's answer, behind `read` on sys/compliance.
  { pk: COMPLIANCE_PARTITION, classify: () => resource(['sys/compliance']) },
  // Secrets: metadata by name, versions by ARN (`secret-versions#<arn>`).
  { pk: SECRETS_PARTITION, classify: ({ sk }) => resource([`secrets/${sk}`], [REWRAP, COMPLIANCE_REPORT]) },
  {
    pk: 'secret-versions#',
    prefix: true,
    classify: ({ pk }) => resource([`secrets/${secretNameOfArn(pk.slice('secret-versions#'.length))}`], [REWRAP]),
  },
  // The creation-order index: two entries per secret naming it (ListSecrets reads them), and the store's marker.
  {
    pk: CREATION_ORDER_PARTITION,
    classify: ({ sk }) =>
      sk === CREATION_ORDER_COMPLETE
        ? { kind: 'system', reason: 'the marker that every secret of the store is in the creation-order index' }
        : resource([`secrets/${nameInCreationOrderKey(sk)}`]),
  },
  // Other regions' secrets and creation-order indexes (`secrets@<region>`; secret-partitions.ts), named alike.
  { pk: `${SECRETS_PARTITION}@`, prefix: true, classify: ({ sk }) => resource([`secrets/${sk}`], [REWRAP]) },
  {
    pk: `${CREATION_ORDER_PARTITION}@`,
    prefix: true,
    classify: ({ sk }) =>
      sk === CREATION_ORDER_COMPLETE
        ? { kind: 'system', reason: 'the marker that every secret of the region is in the creation-order index' }
        : resource([`secrets/${nameInCreationOrderKey(sk)}`]),
  },
  // The deletion-date index: one entry per secret scheduled for deletion, naming it (the purge reads it), and the
  // store's marker; in the home region and in others (`secrets-by-deletion@<region>`).
  ...[DELETION_INDEX_PARTITION, `${DELETION_INDEX_PARTITION}@`].map(
    (pk): PartitionRule => ({
      pk,
      prefix: pk.endsWith('@'),
      classify: ({ sk }) =>
        sk === DELETION_INDEX_COMPLETE
          ? { kind: 'system', reason: 'the marker that every scheduled deletion is in the deletion-date index' }
          : resource([`secrets/${parseDeletionIndexKey(sk)?.name ?? sk}`]),
    }),
  ),
  // Expiration policies: the expiry index (`<due>/<name>#<event>`) and each policy's read count (`reads/<arn>`) and
  // watched condition (`watch/<name>`), in the home region and in others (`…@<region>`).
  ...[EXPIRY_INDEX_PARTITION, `${EXPIRY_INDEX_PARTITION}@`].map(
    (pk): PartitionRule => ({
      pk,
      prefix: pk.endsWith('@'),
      classify: ({ sk }) => resource([`secrets/${parseExpiryIndexKey(sk)?.subject ?? sk}`]),
    }),
  ),
  ...[EXPIRY_STATE_PARTITION, `${EXPIRY_STATE_PARTITION}@`].map(
    (pk): PartitionRule => ({
      pk,
      prefix: pk.endsWith('@'),
      classify: ({ sk }) =>
        resource([
          `secrets/${sk.startsWith('reads/') ? secretNameOfArn(sk.slice('reads/'.length)) : sk.slice(sk.indexOf('/') + 1)}`,
        ]),
    }),
  ),
  // The replication index (`<region>/<name>` of each replicated primary) and the regions that hold secrets.
  { pk: REPLICATION_PARTITION, classify: ({ sk }) => resource([`secrets/${sk.slice(sk.indexOf('/') + 1)}`]) },
  {
    pk: SECRET_REGIONS_PARTITION,
    classify: () => ({ kind: 'system', reason: 'the regions that hold secrets, which sweeps walk (no secret named)' }),
  },
  // Policies: a caller may always see what its own policies say (policy-test defaults to them).
  {
    pk: POLICY_PARTITION,
    classify: ({ sk, caller }) =>
      caller?.policies.includes(sk) === true
        ? { kind: 'self', reason: "one of the caller's own policies" }
        : resource([`sys/policies/${sk}`]),
  },
  // Tokens: by hash; accessors → hash; `token-children#<parent>` → child accessors.
  {
    pk: TOKEN_PARTITIONS.tokens,
    classify: async (input) => {
      if (input.caller?.tokenHash === input.sk) return { kind: 'self', reason: "the caller's own token" };
      const cls = await classifyToken(input, [(input.data as TokenRecord | undefined)?.accessor]);
      return cls.kind === 'resource' ? { ...cls, grants: [...cls.grants, COMPLIANCE_REPORT] } : cls;
    },
  },
  { pk: TOKEN_PARTITIONS.accessors, classify: (input) => classifyToken(input, [input.sk]) },
  // An edge parent → child is the child's (revoking the child removes it) and the parent's (it lists its children).
  {
    pk: TOKEN_PARTITIONS.childrenPrefix,
    prefix: true,
    classify: (input) => classifyToken(input, [input.sk, input.pk.slice(TOKEN_PARTITIONS.childrenPrefix.length)]),
  },
  // Auth mounts: a mount is `sys/auth/<path>`; every operation under `auth/<path>/` reads it to find its method.
  {
    pk: AUTH_MOUNT_PARTITIONS.mounts,
    classify: ({ sk }) =>
      resource([`sys/auth/${sk}`], [readWithin(`auth/${sk}`, 'operations under the mount read it')]),
  },
  // Roles of a mount (`auth-roles#<path>.<random>`): operations on a role's secret ids read the role. LDAP's groups
  // and users are roles keyed `groups/<name>`, `users/<name>` (a role name has no `/`), at Vault's paths.
  {
    pk: AUTH_MOUNT_PARTITIONS.rolesPrefix,
    prefix: true,
    classify: ({ pk, sk }) => {
      const mount = mountPathOfId(pk.slice(AUTH_MOUNT_PARTITIONS.rolesPrefix.length));
      const path = sk.includes('/') ? `auth/${mount}/${sk}` : `auth/${mount}/role/${sk}`;
      return resource([path], [readWithin(path, "operations on a role's credentials read the role")]);
    },
  },
  // AppRole: the role-id index names its role; a role's secret ids are `…/role/<name>/secret-id`.
  {
    pk: APPROLE_PARTITIONS.roleIds,
    classify: ({ sk, data }) => {
      const role = (data as { role?: string } | undefined)?.role;
      if (role === undefined) return { kind: 'absent' };
      return resource([`auth/${mountPathOfId(sk.slice(0, sk.indexOf('#')))}/role/${role}`]);
    },
  },
  {
    pk: APPROLE_PARTITIONS.secretIdsPrefix,
    prefix: true,
    classify: ({ pk }) => {
      const [mountId = '', role = ''] = pk.slice(APPROLE_PARTITIONS.secretIdsPrefix.length).split('#');
      const base = `auth/${mountPathOfId(mountId)}/role/${role}`;
      return resource(
        [`${base}/secret-id`],
        [
          {
            capabilities: ['create', 'update'],
            touches: ['read'],
            matches: exactly(`${base}/secret-id/lookup`),
            why: 'looking a secret id up by itself',
          },
          {
            capabilities: ['create', 'update'],
            touches: ['read'],
            matches: exactly(`${base}/secret-id-accessor/lookup`),
            why: 'looking a secret id up by its accessor',
          },
          {
            capabilities: ['create', 'update'],
            touches: ['read', 'write'],
            matches: exactly(`${base}/secret-id-accessor/destroy`),
            why: 'destroying a secret id by its accessor',
          },
        ],
      );
    },
  },
  // Wrapped answers are reached only through their wrapping token, in the `wrapping` phase; a re-wrap needs sudo.
  { pk: WRAPPING_PARTITION, classify: () => resource([], [REWRAP]) },
  { pk: ACCESS_KEY_PARTITION, classify: () => resource(['sys/access-keys'], [REWRAP]) },
  { pk: IAM_PRINCIPAL_PARTITION, classify: () => resource(['auth/iam/mappings']) },
  { pk: RATE_LIMIT_QUOTA_PARTITION, classify: ({ sk }) => resource([`sys/quotas/rate-limit/${sk}`]) },
  // Rate-limit counters and login-lockout counts (DynamoDB only: the store never holds them locally).
  {
    pk: RATE_LIMIT_COUNTER_PREFIXES.bucket,
    prefix: true,
    classify: () => ({ kind: 'system', reason: 'rate-limit token buckets, keyed by HMAC' }),
  },
  {
    pk: RATE_LIMIT_COUNTER_PREFIXES.failures,
    prefix: true,
    classify: () => ({ kind: 'system', reason: 'failed-login counts of the login lockout, keyed by HMAC' }),
  },
  // Coffer-managed API keys belong to the secret whose value holds them; validation reads any of them.
  {
    pk: API_KEY_PARTITION,
    classify: ({ data }) => {
      const secretName = (data as { secretName?: string } | undefined)?.secretName;
      if (secretName === undefined) return { kind: 'absent' };
      return resource(
        [`secrets/${secretName}`],
        [
          {
            capabilities: ['read'],
            touches: ['read'],
            matches: exactly('sys/apikeys/validate'),
            why: 'a service validating a presented key',
          },
        ],
      );
    },
  },
  // PKI: CA records and CRLs are published unauthenticated (`/v1/pki/ca`, `/v1/pki/crl`).
  {
    pk: 'pki#ca',
    classify: ({ sk }) => resource([`pki/${sk}`], [PKI_SIGNERS], 'CA certificates are published at /v1/pki/ca'),
  },
  {
    pk: 'pki#ca-key',
    classify: () =>
      resource(
        [],
        [
          PKI_SIGNERS,
          REWRAP,
          {
            capabilities: ['create'],
            touches: ['write'],
            matches: (p) => p === 'pki/root' || p === 'pki/intermediate',
            why: 'generating a CA creates its key',
          },
        ],
      ),
  },
  {
    pk: 'pki#role',
    classify: ({ sk }) =>
      resource(
        [`pki/roles/${sk}`],
        [
          {
            capabilities: ['update'],
            touches: ['read'],
            matches: (p) => p === `pki/issue/${sk}` || p === `pki/sign/${sk}`,
            why: 'issuing or signing under the role',
          },
        ],
      ),
  },
  {
    pk: 'pki#cert',
    classify: ({ sk }) =>
      resource(
        [`pki/certs/${sk}`],
        [
          PKI_CERT_WRITERS,
          REWRAP,
          {
            capabilities: ['read'],
            touches: ['read'],
            matches: exactly(`pki/certs/${sk}/private-key`),
            why: 'the stored private key is sealed inside the certificate record',
          },
          COMPLIANCE_REPORT,
        ],
      ),
  },
  // Issued certificates' expiry events (`<due>/<serial>#<event>`), written with the certificate, read by the sweep.
  {
    pk: 'pki#cert-expiry',
    classify: ({ sk }) => resource([`pki/certs/${parseExpiryIndexKey(sk)?.subject ?? sk}`], [PKI_CERT_WRITERS]),
  },
  {
    pk: 'pki#revoked',
    classify: ({ sk }) =>
      resource([`pki/certs/${sk}`], [PKI_CERT_WRITERS], 'revoked serials are published in the CRL at /v1/pki/crl'),
  },
  { pk: 'pki#crl', classify: () => resource([], [PKI_CERT_WRITERS], 'the CRL is published at /v1/pki/crl') },
  // SSH engine: the CA's public key and the revoked-keys list are published unauthenticated (/v1/ssh/public_key,
  // /v1/ssh/revoked_keys); signing reads the CA and records a serial; passwords are written by creds, consumed by verify.
  {
    pk: 'ssh#ca',
    classify: () =>
      resource(
        ['ssh/config/ca'],
        [
          {
            capabilities: ['update'],
            touches: ['read'],
            matches: (p) => /^ssh\/sign\/[^/]+$/.test(p),
            why: 'signing reads the CA (and unseals its key)',
          },
          REWRAP,
        ],
        "the CA's public key is published at /v1/ssh/public_key",
      ),
  },
  {
    pk: 'ssh#role',
    classify: ({ sk }) =>
      resource(
        [`ssh/roles/${sk}`],
        [
          {
            capabilities: ['update'],
            touches: ['read'],
            matches: (p) => p === `ssh/sign/${sk}` || p === `ssh/creds/${sk}`,
            why: 'signing or issuing a password under the role',
          },
        ],
      ),
  },
  {
    pk: 'ssh#cert',
    classify: () =>
      resource(
        [],
        [
          {
            capabilities: ['update'],
            touches: ['read', 'write'],
            matches: (p) => /^ssh\/sign\/[^/]+$/.test(p),
            why: 'each certificate signed records its serial, create-only',
          },
        ],
      ),
  },
  {
    pk: 'ssh#revoked',
    classify: () =>
      resource(
        [],
        [
          {
            capabilities: ['update', 'sudo'],
            touches: ['read', 'write'],
            matches: (p) => /^sys\/leases\/(revoke|revoke-prefix)\/ssh(\/|$)/.test(p),
            why: "revoking a certificate's lease lists its key",
          },
        ],
        'the revoked keys are published at /v1/ssh/revoked_keys',
      ),
  },
  {
    pk: 'ssh#otp',
    classify: () =>
      resource(
        [],
        [
          {
            capabilities: ['update'],
            touches: ['read', 'write'],
            matches: (p) => /^ssh\/creds\/[^/]+$/.test(p) || p === 'ssh/verify',
            why: 'issuing a password stores its hash; verifying consumes it',
          },
          {
            capabilities: ['update', 'sudo'],
            touches: ['read', 'write'],
            matches: (p) => /^sys\/leases\/(renew|revoke|revoke-prefix)\/ssh(\/|$)/.test(p),
            why: "renewing a password's lease moves its expiry; revoking deletes it",
          },
        ],
      ),
  },
  // OAuth engine: a token request reads its role and the config (a refresh rewrites the config's sealed refresh token)
  // and keeps the token sealed; revoking the lease reads the config and the token, and deletes the token.
  {
    pk: OAUTH_CONFIG_PK,
    classify: () =>
      resource(
        ['oauth/config'],
        [
          {
            capabilities: ['read', 'update'],
            touches: ['read', 'write'],
            matches: (p) => /^oauth\/creds\/[^/]+$/.test(p),
            why: 'a token request opens the client credential (a refresh rotates the refresh token in it)',
          },
          {
            capabilities: ['update', 'sudo'],
            touches: ['read'],
            matches: (p) => /^sys\/leases\/(revoke|revoke-prefix)\/oauth(\/|$)/.test(p),
            why: 'revoking a lease presents the token to the server with the client credential',
          },
          REWRAP,
        ],
      ),
  },
  {
    pk: OAUTH_ROLE_PK,
    classify: ({ sk }) =>
      resource(
        [`oauth/roles/${sk}`],
        [
          {
            capabilities: ['read', 'update'],
            touches: ['read'],
            matches: (p) => p === `oauth/creds/${sk}`,
            why: 'a token request under the role',
          },
        ],
      ),
  },
  {
    pk: OAUTH_TOKEN_PK,
    classify: () =>
      resource(
        [],
        [
          {
            capabilities: ['read', 'update'],
            touches: ['read', 'write'],
            matches: (p) => /^oauth\/creds\/[^/]+$/.test(p),
            why: 'each token issued is kept sealed for its revocation',
          },
          {
            capabilities: ['update', 'sudo'],
            touches: ['read', 'write'],
            matches: (p) => /^sys\/leases\/(revoke|revoke-prefix)\/oauth(\/|$)/.test(p),
            why: "revoking a token's lease revokes it at the server and forgets it",
          },
          REWRAP,
        ],
      ),
  },
  // Database engine: a creds request (or a lease renewal/revocation) reads its role and that role's config.
  {
    pk: DB_ROLE_PK,
    classify: ({ sk }) =>
      resource(
        [`database/roles/${sk}`],
        [
          {
            capabilities: ['read', 'update', 'sudo'],
            touches: ['read'],
            matches: (p) =>
              p === `database/creds/${sk}` ||
              (/^sys\/leases\/(renew|revoke|revoke-prefix)\//.test(p) &&
                related(`database/creds/${sk}`, p.replace(/^sys\/leases\/(renew|revoke|revoke-prefix)\//, ''))),
            why: 'issuing, renewing or revoking a credential of the role',
          },
        ],
      ),
  },
  {
    pk: DB_CONFIG_PK,
    // A config delegates its admin secret only when it carries the grant of a writer who was authorised for it.
    classify: ({ sk, data }) =>
      resource(
        [`database/config/${sk}`],
        [
          {
            capabilities: ['read', 'update', 'sudo'],
            touches: ['read'],
            // Approximate: which config a role uses is in the role, not in the path.
            matches: (p) =>
              /^database\/creds\/[^/]+$/.test(p) || /^sys\/leases\/(renew|revoke|revoke-prefix)\/database\//.test(p),
            why: "a credential of a role is made through the role's connection config",
          },
        ],
        undefined,
        delegatedAdminSecret(data),
      ),
  },
  {
    pk: AWS_ROLE_PK,
    classify: ({ sk }) =>
      resource(
        [`aws/roles/${sk}`],
        [
          {
            capabilities: ['read', 'update'],
            touches: ['read'],
            matches: exactly(`aws/creds/${sk}`),
            why: 'issuing credentials of the role',
          },
        ],
      ),
  },
  // Leases: ids are paths (`database/creds/app/<id>`), authorised under `sys/leases/<action>/<id>`.
  { pk: LEASE_PK, classify: ({ sk }) => resource([], leaseGrants(sk)) },
  { pk: DUE_PK, classify: ({ sk }) => resource([], leaseGrants(sk.slice(sk.indexOf('/') + 1))) },
  { pk: FAILED_PK, classify: ({ sk }) => resource([], leaseGrants(sk)) },
  { pk: PREFIX_JOB_PK, classify: ({ sk }) => resource([], leaseGrants(sk.replace(/\/+$/, ''))) },
  {
    pk: QUOTA_PK,
    classify: () => ({
      kind: 'system',
      reason: 'live-lease counters per role and per principal: bookkeeping of issue and revoke, never returned',
    }),
  },
  {
    pk: CLAIM_PARTITION,
    classify: () => ({
      kind: 'system',
      reason: 'which node runs a job (a rotation it launches, a sweep): node ids and expiry, never returned',
    }),
  },
  // Rotation: configs and locks per secret; rotations and revocations name their secrets; groups their members.
  {
    pk: ROTATION_CONFIG_PK,
    classify: ({ sk }) =>
      resource(
        [`secrets/${sk}`],
        [
          {
            capabilities: ['read'],
            touches: ['read'],
            matches: exactly('sys/rotation/status'),
            why: 'compliance figures aggregate every rotation config',
          },
          COMPLIANCE_REPORT,
        ],
      ),
  },
  { pk: ROTATION_LOCK_PK, classify: ({ sk }) => resource([`secrets/${sk}`]) },
  {
    pk: ROTATION_PK,
    classify: ({ data }) => {
      const secrets = (data as { secrets?: string[] } | undefined)?.secrets;
      if (secrets === undefined) return { kind: 'absent' };
      return resource(
        secrets.map((name) => `secrets/${name}`),
        [
          {
            capabilities: ['read'],
            touches: ['read'],
            matches: exactly('sys/rotation/status'),
            why: 'compliance figures aggregate every rotation',
          },
          COMPLIANCE_REPORT,
        ],
      );
    },
  },
  {
    pk: ROTATION_GROUP_PK,
    classify: ({ sk, data }) => {
      const members = (data as { members?: string[] } | undefined)?.members ?? [];
      return resource(
        [`sys/rotation/groups/${sk}`],
        [
          {
            capabilities: ['read', 'rotate'],
            touches: ['read'],
            matches: (p) => members.some((m) => p === `secrets/${m}`),
            why: "a member's rotation reads its group",
          },
        ],
      );
    },
  },
  {
    pk: REVOCATION_PK,
    classify: ({ data }) => {
      const secretName = (data as { secretName?: string } | undefined)?.secretName;
      if (secretName === undefined) return { kind: 'absent' };
      return resource(
        [`secrets/${secretName}`],
        [
          {
            capabilities: ['read'],
            touches: ['read'],
            matches: exactly('sys/rotation/revocations'),
            why: 'the revocation queue lists every queued revocation',
          },
        ],
      );
    },
  },
  // Audit outbox (AWS runtime) and the local init marker: the system's own records.
  { pk: 'audit-outbox#', prefix: true, classify: () => ({ kind: 'system', reason: 'audit outbox' }) },
  { pk: 'audit-relay', classify: () => ({ kind: 'system', reason: 'audit outbox relay position' }) },
  { pk: 'sys', classify: () => ({ kind: 'system', reason: 'the local node init marker' }) },
];

export function partitionRule(pk: string): PartitionRule | undefined {
  return PARTITIONS.find((rule) => (rule.prefix === true ? pk.startsWith(rule.pk) : pk === rule.pk));
}

async function classify(input: ClassifyInput): Promise<RecordClass> {
  const rule = partitionRule(input.pk);
  if (rule === undefined) return { kind: 'unclassified' };
  return rule.classify(input);
}

// ---- checking --------------------------------------------------------------------------------------------------

export interface Violation {
  readonly touch: Touch;
  readonly why: string;
}

/**
 * The touches of one request that no decision of that request covers.
 *
 * | touch | covered by an ALLOWED decision (enforced or filter) … |
 * |---|---|
 * | read of a record of path R | on R with any capability (a writer reads before it writes: existence, revision, idempotency); or `list` on R or a folder above R (listing reads the records it names) |
 * | write of a record of path R | on R with `create`, `update`, `delete`, `rotate` or `sudo` |
 * | record of several paths (a rotation of a group) | every path covered as above |
 * | any touch | a {@link Grant} of the record's partition that names the decision's path, capability and the touch |
 *
 * Also covered: a read of a record the request then filtered out, i.e. a filter decision about one of its paths that
 * was denied (a listing must read a record to know whether to show it; the denial proves it asked). A write is never
 * covered by a filter decision it failed. `self`, `system` and `absent` records, and touches in a broker phase
 * ({@link PHASES}) but `engine-delegated`, are exempt; `publicRead` records may be read without a decision. An
 * engine's delegated read is covered only by a config record read in the same request whose stored grant names it. Decisions are not ordered: a
 * route that reads and then authorises is covered if the authorisation was granted (the denied runs catch the rest,
 * since there the grant never comes).
 */
export function unauthorisedTouches(trace: RequestTrace): Violation[] {
  const allowed = trace.decisions.filter((d) => d.allowed);
  const filteredOut = trace.decisions.filter((d) => !d.allowed && d.kind === 'filter');
  const delegated = new Set(
    trace.touches.flatMap((t) =>
      t.class.kind === 'resource' && t.phase === undefined ? (t.class.delegates ?? []) : [],
    ),
  );
  const violations: Violation[] = [];
  for (const touch of trace.touches) {
    const cls = touch.class;
    if (touch.phase === 'engine-delegated') {
      const paths = cls.kind === 'resource' ? cls.paths : [];
      if (touch.kind === 'read' && paths.length > 0 && paths.every((p) => delegated.has(p))) continue;
      violations.push({ touch, why: `engine read of ${touch.pk}/${touch.sk} that no config read here delegates` });
      continue;
    }
    if (cls.kind === 'system' || cls.kind === 'self' || cls.kind === 'absent') continue;
    if (cls.kind === 'unclassified') {
      violations.push({ touch, why: `partition ${touch.pk} is not classified in PARTITIONS (authz-harness.ts)` });
      continue;
    }
    if (touch.kind === 'read' && cls.publicRead !== undefined) continue;
    const granted = allowed.some((d) =>
      cls.grants.some(
        (g) =>
          g.touches.includes(touch.kind) &&
          (g.capabilities as readonly string[]).includes(d.capability) &&
          g.matches(d.path),
      ),
    );
    if (granted) continue;
    const onPath = (path: string) =>
      touch.kind === 'write'
        ? allowed.some((d) => d.path === path && (WRITE as readonly string[]).includes(d.capability))
        : allowed.some((d) => d.path === path || (d.capability === 'list' && within(path, d.path)));
    if (cls.paths.length > 0 && cls.paths.every(onPath)) continue;
    if (touch.kind === 'read' && cls.paths.some((path) => filteredOut.some((d) => d.path === path))) continue;
    violations.push({
      touch,
      why: `${touch.kind} of ${touch.pk}/${touch.sk} (${cls.paths.join(', ') || 'no own path'}) without a covering decision`,
    });
  }
  return violations;
}

/** One line per violation, for assertion messages (keys and paths only: never record data). */
export function describeViolations(violations: readonly Violation[]): string[] {
  return violations.map((v) => `${v.touch.op} ${v.why}`);
}

// ---- the world -----------------------------------------------------------------------------------------------

/** A database plugin that runs nothing: users exist as names in a set. */
export class FakeDatabasePlugin implements DatabasePlugin {
  readonly users = new Set<string>();
  async createUser(_target: unknown, _statements: readonly string[], values: { name: string }): Promise<void> {
    this.users.add(values.name);
  }
  async revokeUser(_target: unknown, _statements: readonly string[], name: string): Promise<void> {
    this.users.delete(name);
  }
  async renewUser(): Promise<void> {}
  async close(): Promise<void> {}
}

/** STS that hands out made-up session credentials. */
const fakeSts = {
  async send() {
    return {
      Credentials: {
        AccessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
        SecretAccessKey: randomBytes(20).toString('base64'),
        SessionToken: randomBytes(32).toString('base64'),
        Expiration: new Date(Date.now() + 3_600_000),
      },
    };
  },
} as unknown as ConstructorParameters<typeof AwsEngine>[0]['sts'];

/** Rotations are recorded and locked but never run: the routes, not the workflow, are under test here. */
const idleLauncher: RotationLauncher = { launch: async () => {} };

/** A seeded world's records, keys and root token, from which any number of identical worlds can be built. */
export interface AuthzSnapshot {
  readonly records: ReadonlyMap<string, ReadonlyMap<string, StoredItem>>;
  readonly keyProvider: FakeKeyProvider;
  readonly root: TokenRecord;
  readonly rootToken: string;
}

/** MemoryStore keeps its items in a private map; a test-only copy of it is what makes worlds cheap to clone. */
type MemoryInternals = { partitions: Map<string, Map<string, StoredItem>> };

export interface AuthzWorld {
  readonly broker: Broker;
  readonly deps: BrokerDeps;
  readonly tracer: Tracer;
  /** The untraced store, for seeding and assertions. */
  readonly store: MemoryStore;
  /** The traced store every service uses. */
  readonly traced: TracingStore;
  /** The replicator (no runner: a seed calls it). */
  readonly replicator: SecretReplicator;
  readonly sink: MemoryAuditSink;
  readonly tokens: TokenService;
  readonly root: TokenRecord;
  readonly rootToken: string;
  readonly routes: readonly RouteDef[];
  /** Sends a request and returns the response with the trace of what it touched and was allowed. */
  send(req: BrokerRequest): Promise<{ res: BrokerResponse; trace: RequestTrace }>;
  /** A token whose only policy grants exactly `checks` (exact-path rules); no policy at all for an empty list. */
  tokenFor(checks: readonly AccessCheck[]): Promise<string>;
  /** This world's state, to build identical worlds from. */
  snapshot(): AuthzSnapshot;
}

/**
 * A broker with every optional service wired on in-memory adapters: secrets, tokens, policies, access keys and
 * SigV4, IAM mappings, PKI (local sealed CA keys), leases over the real database engine (fake plugin) and AWS engine
 * (fake STS), API keys, rotation (real rotators, an idle launcher). Caches are off, so every decision reads the store.
 */
export async function buildAuthzWorld(
  from?: AuthzSnapshot,
  clock: Clock = { now: () => Date.now() },
): Promise<AuthzWorld> {
  const tracer = new Tracer();
  const memory = new MemoryStore();
  if (from !== undefined) {
    const partitions = (memory as unknown as MemoryInternals).partitions;
    for (const [pk, items] of from.records) partitions.set(pk, structuredClone(new Map(items)));
  }
  const store = new TracingStore(memory, tracer);
  const sink = new MemoryAuditSink();
  const audit = new AuditLog({ sink, hasher: new AuditHasher(randomBytes(32)) });
  const keyProvider = from?.keyProvider ?? new FakeKeyProvider();
  const keyRing = new MemoryKeyRing();
  await keyRing.create('app');
  const { secrets, regionalSecrets, replication, replicator } = regionalSecretsDeps({
    store,
    keyProvider,
    keyRing,
    clock,
  });
  const tokens = new TokenService({ store, clock });
  const policies = new PolicyService({ store, clock, cacheTtlMs: 0 });
  const accessKeys = new AccessKeyService({ store, keyProvider, clock, cacheTtlMs: 0 });
  const caKeys = new SealedCaKeyStore({ store, keyProvider, clock });
  const pki = new PkiService({ store, keyProvider, caKeys, clock, publicUrl: 'https://coffer.test' });
  // The engine's reads of the admin secret are delegated use (see PHASES); everything else it does is checked.
  const engineSecrets = { get: (input: Parameters<SecretService['get']>[0]) => secrets.get(input) };
  tracer.wrapInPhase(engineSecrets, 'get', 'engine-delegated');
  const database = new DatabaseEngine({ store, clock, secrets: engineSecrets, plugin: new FakeDatabasePlugin() });
  const aws = new AwsEngine({ store, sts: fakeSts });
  const ssh = new SshService({ store, clock, caKeys, keyProvider });
  const oauth = new OAuthService({ store, clock, keyProvider, fetch: fakeOAuthFetch() });
  const leases = new LeaseService({ store, clock, providers: { database, aws, ssh, oauth } });
  const rotation = new RotationService({
    store,
    secrets,
    clock,
    rotators: createRotators({
      postgres: new PostgresSessions(),
      store,
      clock,
      pki,
    }),
    launcher: idleLauncher,
    schedules: new RecordingSchedules(),
    events: new RecordingEvents(),
    audit,
    // Nothing connects out: rotations never run here.
    egress: { resolve: async ({ host }) => host },
  });
  tracer.wrapInPhase(tokens, 'authenticate', 'authn');
  const authMounts = new AuthMountService({
    store,
    clock,
    // LDAP logins bind against an in-memory directory: nothing connects out here.
    methods: buildAuthMethods({ store, clock, ldap: fakeLdapDirectory(LDAP_FIXTURE_ENTRIES) }),
    tokens,
  });
  tracer.wrapInPhase(authMounts, 'login', 'login');
  // The sign-in page's list of mounts reads what a login reads, for anyone (`/v1/sys/login-methods`).
  tracer.wrapInPhase(authMounts, 'loginMethods', 'login');
  const wrapping = new ResponseWrapping({ store, keyProvider, clock });
  for (const method of ['wrap', 'unwrap', 'lookup'] as const) tracer.wrapInPhase(wrapping, method, 'wrapping');
  const quotas = new QuotaService({
    store,
    clock,
    counters: new MemoryRateLimitCounters(),
    hmac: (value) => audit.hmac(value),
    refreshMs: 0,
  });
  tracer.wrapInPhase(quotas, 'enforce', 'quota');
  // Only the broker's own resolution (of exactly the caller's policies) is evaluation: a route resolving other
  // names (policy test) reads documents, and is checked like any reader.
  const resolve = policies.resolve.bind(policies);
  policies.resolve = (names) => {
    const caller = tracer.current()?.trace.caller;
    const own =
      caller !== undefined &&
      names.length === caller.policies.length &&
      names.every((n, i) => n === caller.policies[i]);
    return own ? tracer.inPhase('policy-eval', () => resolve(names)) : resolve(names);
  };
  tracer.wrapInPhase(secrets, 'resourcePolicyOf', 'policy-eval');
  tracer.wrapInPhase(secrets, 'indexCreationOrder', 'migration');
  // Learn who the caller is, for the `self` class (its token, its policies).
  const authenticate = tokens.authenticate.bind(tokens);
  tokens.authenticate = async (token: string, sourceIp?: string) => {
    const record = await authenticate(token, sourceIp);
    const scope = tracer.current();
    if (scope !== undefined) {
      scope.trace.caller = { accessor: record.accessor, tokenHash: hashToken(token), policies: record.policies };
    }
    return record;
  };
  const deps: BrokerDeps = {
    secrets,
    regionalSecrets,
    replication,
    tokens,
    accessKeys,
    sigv4: new SigV4Verifier({ accessKeys, clock, services: ['coffer', 'secretsmanager'], regions: ['us-east-1'] }),
    policies,
    audit,
    clock,
    iamPrincipals: new IamPrincipalService({ store, clock, cacheTtlMs: 0 }),
    keys: keyRing,
    pki,
    leases,
    database,
    aws,
    ssh,
    oauth,
    apiKeys: new ApiKeyRegistry({ store, clock }),
    rotation,
    compliance: new ComplianceService({
      compute: computeReportLazily,
      clock,
      secrets,
      tokens,
      hmac: (value) => audit.hmac(value),
      rotation,
      certificates: () => issuedCertificates(pki),
    }),
    authMounts,
    wrapping,
    quotas,
    // Socket devices that keep their records in memory: nothing connects out here.
    auditDevices: new AuditDeviceService({
      store,
      keyProvider,
      clock,
      audit,
      opener: { types: ['socket'], open: async () => new MemoryAuditSink() },
    }),
    onAccessDecision: tracer.onAccessDecision,
    requestScope: tracer.requestScope,
    system: {
      version: API_VERSION,
      runtime: 'local',
      auditVerify: async () => ({ ok: true, records: sink.lines.length }),
      auditTail: async (lines) => sink.lines.slice(-lines),
      loginMetrics: () => ({ since: clock.now(), logins: [] }),
      createKey: keyRing.create,
      replicationFaults: (fault) => ({ down: fault.down ? [fault.region] : [] }),
      async rotateRootKey() {
        const previous = 'fake-root';
        const keyId = keyProvider.rotate();
        const rewrapped =
          (await secrets.rewrapAll()).rewrapped +
          (await accessKeys.rewrapAll()).rewrapped +
          (await caKeys.rewrapAll()).rewrapped +
          (await pki.rewrapAll()).rewrapped +
          (await oauth.rewrapAll()).rewrapped;
        return { keyId, rewrapped, retired: [previous] };
      },
    },
  };
  const routes = nativeRoutes();
  const broker = new Broker(deps, routes, () => {});
  const { token: rootToken, record: root } =
    from === undefined ? await tokens.createRoot() : { token: from.rootToken, record: from.root };
  let policyNumber = 0;
  return {
    broker,
    deps,
    tracer,
    store: memory,
    traced: store,
    replicator,
    sink,
    tokens,
    root,
    rootToken,
    routes,
    async send(req) {
      const before = new Set(tracer.traces.keys());
      const res = await broker.handle(req);
      const requestId = res.headers['x-request-id'];
      const trace =
        (requestId === undefined ? undefined : tracer.traces.get(requestId)) ??
        [...tracer.traces.values()].find((t) => !before.has(t.requestId));
      if (trace === undefined) throw new Error('the request left no trace: requestScope was not called');
      return { res, trace };
    },
    async tokenFor(checks) {
      const byPath = new Map<string, Set<string>>();
      for (const check of checks) byPath.set(check.path, (byPath.get(check.path) ?? new Set()).add(check.capability));
      const names: string[] = [];
      if (byPath.size > 0) {
        const name = `authz-${++policyNumber}`;
        await policies.put({
          name,
          rules: [...byPath].map(([path, capabilities]) => ({ path, capabilities: [...capabilities] })),
        });
        names.push(name);
      }
      const { token } = await tokens.create(root, { policies: names, ttl: '1h' });
      return token;
    },
    snapshot() {
      const partitions = (memory as unknown as MemoryInternals).partitions;
      return { records: structuredClone(partitions), keyProvider, root, rootToken };
    },
  };
}
