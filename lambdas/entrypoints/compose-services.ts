import type { STSClient } from '@aws-sdk/client-sts';
import { DnsEgressGuard, guardedFetch } from '../adapters/egress/dns-egress-guard.ts';
import { LdaptsDirectory } from '../adapters/ldap/ldapts-directory.ts';
import type { BrokerDeps, LoginAttempt } from '../broker/broker-deps.ts';
import { API_VERSION } from '../broker/routes/index.ts';
import { AuditHasher } from '../core/audit/audit-hmac.ts';
import { type AuditFilter, AuditLog } from '../core/audit/audit-log.ts';
import type { AuditDeviceType } from '../core/audit/devices/audit-device-config.ts';
import { AuditDeviceService } from '../core/audit/devices/audit-device-service.ts';
import type { VerifyResult } from '../core/audit/hash-chain.ts';
import { withBootstrapAdmins } from '../core/auth/iam/bootstrap-admins.ts';
import { IamPrincipalService } from '../core/auth/iam/iam-principal-service.ts';
import { AuthMountService } from '../core/auth/methods/auth-mount-service.ts';
import type { LoginCounters } from '../core/auth/methods/login-counters.ts';
import { buildAuthMethods } from '../core/auth/methods/registry.ts';
import { AccessKeyService } from '../core/auth/sigv4/access-key-service.ts';
import { SigV4Verifier, type SigV4VerifierOptions } from '../core/auth/sigv4/sigv4-verifier.ts';
import { TokenService } from '../core/auth/token/token-service.ts';
import type { ComplianceCertificate } from '../core/compliance/compliance-metrics.ts';
import { ComplianceService, type ComputeReport, type ExpiredSecrets } from '../core/compliance/compliance-service.ts';
import { type Claims, StoreClaims } from '../core/coordination/claims.ts';
import { CachingKeyProvider } from '../core/crypto/data-key-cache.ts';
import { CachingKeyRing } from '../core/crypto/key-ring-cache.ts';
import { type DataKeyHolder, type RootKeyring, rotateRootKey } from '../core/crypto/root-key-rotation.ts';
import { type EgressGuard, EgressPolicy } from '../core/egress/egress-policy.ts';
import { LeaseService, type LeaseServiceOptions } from '../core/leases/lease-service.ts';
import type { ProviderRegistry } from '../core/leases/lease-types.ts';
import { PolicyService } from '../core/policy/policy-service.ts';
import type { AuditDeviceOpener, AuditSink } from '../core/ports/audit-sink.ts';
import type { AuditWindowReader } from '../core/ports/audit-window.ts';
import type { CaKeyStore } from '../core/ports/ca-key-store.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { KeyProvider } from '../core/ports/key-provider.ts';
import type { KeyRing } from '../core/ports/key-ring.ts';
import type { KubernetesTokenReviewer } from '../core/ports/kubernetes-token-review.ts';
import type { RateLimitCounters } from '../core/ports/rate-limit-counters.ts';
import type { RotationEventPublisher, RotationLauncher, RotationScheduleSync } from '../core/ports/rotation.ts';
import type { Store } from '../core/ports/store.ts';
import { LoginLockout } from '../core/quota/login-lockout.ts';
import { QuotaService } from '../core/quota/quota-service.ts';
import { RequestReadMemo } from '../core/request-reads.ts';
import { parseRotationFaults, withRotationFaults } from '../core/rotation/rotation-faults.ts';
import { RotationService } from '../core/rotation/rotation-service.ts';
import type { StepTaskInput } from '../core/rotation/rotation-workflow.ts';
import { RegionalSecrets } from '../core/secrets/regional-secrets.ts';
import { ReplicaFaults } from '../core/secrets/replication/replica-faults.ts';
import { ReplicationService } from '../core/secrets/replication/replication-service.ts';
import { SecretReplicator } from '../core/secrets/replication/secret-replicator.ts';
import { isSecretReadPartition, isSecretsPartition } from '../core/secrets/secret-partitions.ts';
import type { SecretService, SecretServiceOptions } from '../core/secrets/secret-service.ts';
import { SingleWriterCache } from '../core/single-writer-cache.ts';
import { ResponseWrapping } from '../core/wrapping/response-wrapping.ts';
import { AwsEngine } from '../engines/aws/aws-engine.ts';
import { DatabaseEngine } from '../engines/database/database-engine.ts';
import { PostgresPlugin } from '../engines/database/postgres/postgres-plugin.ts';
import { OAuthService } from '../engines/oauth/oauth-service.ts';
import { PkiService } from '../engines/pki/pki-service.ts';
import { ApiKeyRegistry } from '../engines/rotation/api-key/index.ts';
import { createRotators } from '../engines/rotation/registry.ts';
import { PostgresSessions, type PostgresTimeouts } from '../engines/shared/postgres/postgres-sessions.ts';
import { SshService } from '../engines/ssh/ssh-service.ts';

/** What both runtimes configure the same way; each runtime reads it from its own configuration. */
export interface ServiceSettings {
  /** The node's home region: the native API's default region, and the region of rotation, leases and engines. */
  readonly region: string;
  /** The regions whose secrets the node serves. @default any region in AWS's name form */
  readonly regions?: readonly string[] | undefined;
  /**
   * The region whose secrets keep the store's partition names from before regions (`RegionalSecretsOptions.storeRegion`):
   * a replica region's broker on a DynamoDB global table names the primary deployment's region. @default `region`
   */
  readonly storeRegion?: string | undefined;
  /** `COFFER_FAULT_INJECTION=1`: root may mark replica regions down (`sys/replication/faults`). @default false */
  readonly replicationFaults?: boolean | undefined;
  readonly account: string;
  /** Base URL of the CRL distribution points in issued certificates. */
  readonly publicUrl: string;
  /** Outbound targets engines may reach (`COFFER_EGRESS_ALLOW`); empty: none. */
  readonly egressAllow: string;
  /** Write-rate and version caps of secrets. @default the service's defaults */
  readonly secretLimits?: Pick<SecretServiceOptions, 'writeRate' | 'maxDeprecatedVersions'>;
  /** Lease caps and revocation retry backoff. @default the service's defaults */
  readonly leases?: Pick<
    LeaseServiceOptions,
    'maxLeasesPerRole' | 'maxLeasesPerPrincipal' | 'retryBaseMs' | 'retryMaxMs'
  >;
  /** Bounds on every PostgreSQL session the engines open. @default DEFAULT_POSTGRES_TIMEOUTS */
  readonly postgresTimeouts?: Partial<PostgresTimeouts>;
  /** The chaos-drill switch `COFFER_ROTATION_FAULT`. @default none */
  readonly rotationFault?: string | undefined;
  /** @default 1_048_576 */
  readonly maxBodyBytes?: number;
  /**
   * How long a presented token's record is served from memory (`TokenService`'s `presentedTokenCacheMs`): only for a
   * runtime whose store has no other writer, since another writer's revocation is seen only after this long.
   * @default 0 (every presentation reads the store)
   */
  readonly presentedTokenCacheMs?: number;
  /**
   * Why this runtime cannot reach LDAP directories (the broker Lambda outside a VPC): `auth enable ldap` answers it.
   * @default directories are reachable (through the egress guard)
   */
  readonly ldapUnavailable?: string | undefined;
}

/** How a runtime runs rotation workflows, keeps schedules and publishes events. */
export interface RotationPorts {
  /** Built once the rotation service exists: a runner in process calls `step` back; Step Functions invokes a Lambda. */
  readonly launcher: (step: (input: StepTaskInput) => Promise<Record<string, unknown>>) => RotationLauncher;
  readonly schedules: RotationScheduleSync;
  readonly events: RotationEventPublisher;
}

/**
 * Everything that differs between the runtimes, and nothing else: storage, keys, the audit sink, the CA key store,
 * the workflow engine, and the runtime's own operations. {@link composeServices} builds every service from them the
 * same way on both.
 */
export interface RuntimePorts {
  readonly runtime: 'local' | 'aws';
  readonly clock: Clock;
  /** Where every record lives (on AWS, the audit outbox's store, so changes commit with their audit records). */
  readonly store: Store;
  /**
   * No process but this one writes `store` (the local node owns its SQLite file), so what it read of secrets may be
   * kept in memory (`SingleWriterCache`). @default false: every read goes to the store
   */
  readonly soleWriter?: boolean;
  /** The counters of rate-limit quotas and login lockout, shared by every instance (memory locally, DynamoDB). */
  readonly rateLimitCounters: RateLimitCounters;
  /** The root of envelope encryption (the file keyring, KMS); data keys are cached over it here. */
  readonly envelopeKey: KeyProvider;
  readonly audit: {
    readonly sink: AuditSink;
    /** Keys the HMAC of audited values. */
    readonly salt: Buffer;
    /** @default none: every record is written */
    readonly filters?: readonly AuditFilter[];
    /** Where `coffer audit list` shows the sink above, the built-in device. @default `{ path: 'file', type: 'file' }` */
    readonly builtin?: { readonly path: string; readonly type: AuditDeviceType };
    /** Opens the other devices `coffer audit enable` asks for; network ones dial through the egress guard. */
    readonly devices: (egress: EgressGuard) => AuditDeviceOpener;
    /**
     * How old this node's view of the enabled devices may get before a record reloads it, where other nodes enable and
     * disable them too (Lambda instances). @default never: the node is the only writer
     */
    readonly deviceRefreshMs?: number;
  };
  /** Where CA private keys live, given the composed store and (cached) key provider. */
  readonly caKeys: (shared: { store: Store; keyProvider: KeyProvider; clock: Clock }) => CaKeyStore;
  /** For `aws/<role>` credentials; nothing is called until a role is used. */
  readonly sts: Pick<STSClient, 'send'>;
  readonly settings: ServiceSettings;
  /** @default rotation not enabled */
  readonly rotation?: RotationPorts;
  /**
   * Coffer-issued access keys and the SigV4 verifier for requests signed with them. Absent where API Gateway's IAM
   * authoriser owns the `Authorization` header. @default not enabled
   */
  readonly signedRequests?: {
    readonly services: readonly string[];
    readonly regions: readonly string[];
    readonly hosts: SigV4VerifierOptions['hosts'];
  };
  /** IAM callers authenticated by API Gateway, mapped to principals. @default not accepted */
  readonly iamCallers?: { readonly bootstrapAdminArns: readonly string[] };
  /** The local audit file's own operations. @default not offered */
  readonly auditFile?: {
    verify(): Promise<VerifyResult>;
    tail(lines: number): Promise<string[]>;
  };
  /**
   * Reads the audit records of a window back, for the compliance report (the audit file; S3 on AWS).
   * @default the report's audit figures are `unknown`
   */
  readonly auditWindow?: AuditWindowReader;
  /**
   * The live secrets their expiration policy has ended (in grace or expired), for the compliance report.
   * @default the home region's secrets, judged by `SecretService.endedByExpiration`
   */
  readonly expiredSecrets?: ExpiredSecrets;
  /**
   * Computes compliance reports (`computeReportLazily` locally; on AWS the broker reads the report its scheduled
   * function stored, `storedReportReader`): the compliance report is offered where it is given.
   * @default not offered
   */
  readonly computeComplianceReport?: ComputeReport;
  /** The customer keys secrets may name (`KmsKeyId`); data keys are cached over them here. @default not offered */
  readonly keyRing?: KeyRing;
  /** A root key the node rotates itself (KMS rotates its own). @default root-key rotation not offered */
  readonly rootKeyring?: RootKeyring;
  /** Wraps each request (the audit outbox's scope). @default none */
  readonly requestScope?: BrokerDeps['requestScope'];
  /** The Kubernetes TokenReview client, calling out through the egress guard. @default none: JWKS mode only */
  readonly kubernetesTokenReview?: (egress: EgressGuard) => KubernetesTokenReviewer;
  /** Counts logins (the runtime's metrics). @default not counted */
  readonly onLogin?: BrokerDeps['onLogin'];
  /** Counts logins in memory and serves the counts (`GET /v1/sys/metrics`). @default not offered */
  readonly loginCounters?: LoginCounters;
  /**
   * Where several nodes share the store: the claims that keep a job (a lease's revocation) on one node at a time.
   * @default soleNodeClaims: this node is the store's only one
   */
  readonly claims?: Claims;
}

/** The services of one node, and how to stop them. */
export interface ComposedServices {
  readonly deps: BrokerDeps;
  /** The data-key cache over the envelope key. */
  readonly keyProvider: CachingKeyProvider;
  /**
   * Brings replicas in sync; the runtime decides when (the local runner after each write and at start-up, a Lambda
   * on AWS), hearing of writes through `deps.regionalSecrets.onReplicatedWrite`.
   */
  readonly replicator: SecretReplicator;
  /** Finishes in-flight revocations, closes engine connections and forgets cached keys. */
  close(): Promise<void>;
}

/** The lease service and the dynamic-secret engines behind it. */
export interface DynamicSecrets {
  readonly leases: LeaseService;
  readonly database: DatabaseEngine;
  readonly aws: AwsEngine;
  readonly ssh: SshService;
  readonly oauth: OAuthService;
}

/**
 * The lease service over the database engine (PostgreSQL, its admin credential read from a Coffer secret through
 * `secrets`) and the STS engine. No timer: expiry is enforced by the runtime (the local sweeper, the scheduled
 * lease-sweeper function).
 */
export function composeDynamicSecrets(options: {
  readonly store: Store;
  readonly secrets: SecretService;
  readonly sts: Pick<STSClient, 'send'>;
  /** Every connection to a configured database goes through it (the node's one guard). */
  readonly egress: EgressGuard;
  readonly clock: Clock;
  /** The node's PostgreSQL sessions; the caller closes them. */
  readonly postgres: PostgresSessions;
  readonly leases?: ServiceSettings['leases'];
  /** Records each read of a connection's admin credential. @default not recorded (the lease sweeper) */
  readonly audit?: AuditLog;
  /** The SSH CA's keys. @default none: the SSH engine only revokes (the lease sweeper) */
  readonly sshKeys?: { readonly caKeys: CaKeyStore; readonly keyProvider: KeyProvider };
  /** Who revokes a lease at its target where nodes share the store. @default the store's only node */
  readonly claims?: Claims;
  /** Seals the OAuth engine's client credential and the access tokens it must present to revoke them. */
  readonly keyProvider: KeyProvider;
}): DynamicSecrets {
  const { store, secrets, clock, audit, egress } = options;
  const database = new DatabaseEngine({
    store,
    clock,
    secrets,
    plugin: new PostgresPlugin(egress, options.postgres),
    ...(audit !== undefined && { audit }),
  });
  const aws = new AwsEngine({ store, sts: options.sts });
  const ssh = new SshService({ store, clock, ...options.sshKeys });
  const oauth = new OAuthService({
    store,
    clock,
    keyProvider: options.keyProvider,
    fetch: guardedFetch(egress, 'oauth provider'),
    // A refresh token is spent once: Lambda instances (no claims given) and nodes sharing a store take turns by a
    // claim; a node alone on its store passes claims that cost nothing.
    claims: options.claims ?? new StoreClaims({ store, clock }),
  });
  const providers = { database, aws, ssh, oauth } satisfies ProviderRegistry;
  const leases = new LeaseService({ store, clock, providers, ...options.leases, claims: options.claims });
  return { leases, database, aws, ssh, oauth };
}

/**
 * The one composition of Coffer's services, for every runtime: each runtime builds its {@link RuntimePorts} and
 * nothing else. Synchronous and free of I/O (on AWS it runs at cold start). Optional features are on exactly when
 * their ports are given (see `broker/features.ts`).
 */
export function composeServices(ports: RuntimePorts): ComposedServices {
  const { clock, settings } = ports;
  // A request reads a secret's metadata once, however many checks and services look at it: from the sole writer's
  // cache, else from a memo of the request's own reads (the memo's AsyncLocalStorage costs every promise something, so
  // it is left out where the cache already does its job).
  const reads =
    ports.soleWriter === true ? undefined : new RequestReadMemo(ports.store, { memoize: isSecretsPartition });
  const store: Store = reads ?? new SingleWriterCache(ports.store, { cache: isSecretReadPartition });
  const keyProvider = new CachingKeyProvider(ports.envelopeKey, { clock });
  const keyRing = ports.keyRing === undefined ? undefined : new CachingKeyRing(ports.keyRing, { clock });
  const audit = new AuditLog({
    sink: ports.audit.sink,
    hasher: new AuditHasher(ports.audit.salt),
    clock,
    ...(ports.audit.filters !== undefined && { filters: ports.audit.filters }),
    ...(ports.audit.builtin !== undefined && { builtin: ports.audit.builtin }),
  });
  const regionalSecrets = new RegionalSecrets({
    store,
    keyProvider,
    keyRing,
    clock,
    homeRegion: settings.region,
    regions: settings.regions,
    ...(settings.storeRegion !== undefined && { storeRegion: settings.storeRegion }),
    account: settings.account,
    ...settings.secretLimits,
    // A read during an expiration policy's grace period is announced where rotation's events go.
    expiryEvents: ports.rotation?.events,
  });
  // Rotation, leases and the engines keep the home region's secrets.
  const secrets = regionalSecrets.home;
  const replicaFaults = settings.replicationFaults === true ? new ReplicaFaults() : undefined;
  const replicator = new SecretReplicator({
    store,
    keyProvider,
    keyRing,
    partitionsOf: (region) => regionalSecrets.partitionsOf(region),
    availability: replicaFaults?.availability,
  });
  const replication = new ReplicationService({
    store,
    secrets: regionalSecrets,
    replicator,
    onChange: (region, name) => regionalSecrets.notifyReplicatedWrite(region, name),
  });
  const egress = new DnsEgressGuard(EgressPolicy.parse(settings.egressAllow));
  const auditDevices = new AuditDeviceService({
    store,
    keyProvider,
    clock,
    audit,
    opener: ports.audit.devices(egress),
    ...(ports.audit.deviceRefreshMs !== undefined && { refreshMs: ports.audit.deviceRefreshMs }),
  });
  const postgres = new PostgresSessions({
    ...(settings.postgresTimeouts !== undefined && { timeouts: settings.postgresTimeouts }),
  });
  const caKeys = ports.caKeys({ store, keyProvider, clock });
  const pki = new PkiService({ store, keyProvider, caKeys, clock, publicUrl: settings.publicUrl });
  const dynamic = composeDynamicSecrets({
    store,
    secrets,
    sts: ports.sts,
    egress,
    clock,
    postgres,
    audit,
    sshKeys: { caKeys, keyProvider },
    keyProvider,
    ...(settings.leases !== undefined && { leases: settings.leases }),
    ...(ports.claims !== undefined && { claims: ports.claims }),
  });
  const rotation = ports.rotation === undefined ? undefined : composeRotation();
  const accessKeys =
    ports.signedRequests === undefined ? undefined : new AccessKeyService({ store, keyProvider, clock });
  const iamPrincipals = ports.iamCallers === undefined ? undefined : new IamPrincipalService({ store, clock });

  function composeRotation(): RotationService {
    const rotationPorts = ports.rotation!;
    let service: RotationService | undefined;
    const launcher = rotationPorts.launcher((input) => {
      if (service === undefined) throw new Error('rotation service not ready');
      return service.runStep(input);
    });
    service = new RotationService({
      store,
      secrets,
      clock,
      audit,
      egress,
      rotators: withRotationFaults(
        createRotators({ store, clock, pki, postgres, fetch: guardedFetch(egress, 'api-key-http provider') }),
        parseRotationFaults(settings.rotationFault),
      ),
      launcher,
      schedules: rotationPorts.schedules,
      events: rotationPorts.events,
    });
    return service;
  }

  const rootKeyring = ports.rootKeyring;
  const tokens = new TokenService({
    store,
    clock,
    ...(settings.presentedTokenCacheMs !== undefined && { presentedTokenCacheMs: settings.presentedTokenCacheMs }),
  });
  const authMethods = buildAuthMethods({
    store,
    clock,
    egressFetch: guardedFetch(egress, 'auth methods'),
    kubernetesTokenReview: ports.kubernetesTokenReview?.(egress),
    certificateRevocation: pki,
    ...(settings.ldapUnavailable === undefined
      ? { ldap: new LdaptsDirectory(egress) }
      : { ldapUnavailable: settings.ldapUnavailable }),
  });
  // Counter keys are HMAC'd with the audit salt: no address, principal or user name is kept in clear.
  const counters = ports.rateLimitCounters;
  const hmac = (value: string) => audit.hmac(value);
  const authMounts = new AuthMountService({
    store,
    clock,
    methods: authMethods,
    tokens,
    keyProvider,
    lockout: new LoginLockout({ counters, hmac }),
  });
  const wrapping = new ResponseWrapping({ store, keyProvider, clock });
  const holders: DataKeyHolder[] = [
    regionalSecrets,
    pki,
    dynamic.ssh,
    dynamic.oauth,
    wrapping,
    authMounts,
    auditDevices,
    ...(accessKeys === undefined ? [] : [accessKeys]),
  ];
  if (isDataKeyHolder(caKeys)) holders.push(caKeys);

  const compliance =
    ports.computeComplianceReport === undefined
      ? undefined
      : new ComplianceService({
          compute: ports.computeComplianceReport,
          clock,
          secrets,
          tokens,
          hmac,
          rotation,
          certificates: () => issuedCertificates(pki),
          auditWindow: ports.auditWindow,
          // The home region's secrets, as every other figure of the report; a runtime may bring its own reader.
          expiredSecrets: ports.expiredSecrets ?? (() => secrets.endedByExpiration()),
        });

  const deps: BrokerDeps = {
    secrets,
    ...(compliance !== undefined && { compliance }),
    regionalSecrets,
    replication,
    tokens,
    wrapping,
    authMounts,
    quotas: new QuotaService({ store, clock, counters, hmac }),
    policies: new PolicyService({ store, clock }),
    audit,
    auditDevices,
    clock,
    ...(settings.maxBodyBytes !== undefined && { maxBodyBytes: settings.maxBodyBytes }),
    pki,
    leases: dynamic.leases,
    database: dynamic.database,
    aws: dynamic.aws,
    ssh: dynamic.ssh,
    oauth: dynamic.oauth,
    apiKeys: new ApiKeyRegistry({ store, clock }),
    ...(rotation !== undefined && { rotation }),
    ...(keyRing !== undefined && { keys: keyRing }),
    ...(accessKeys !== undefined && {
      accessKeys,
      sigv4: new SigV4Verifier({ accessKeys, clock, ...ports.signedRequests! }),
    }),
    ...(iamPrincipals !== undefined && {
      iamPrincipals,
      resolveIamPrincipal: withBootstrapAdmins(
        (arn) => iamPrincipals.resolve(arn),
        ports.iamCallers!.bootstrapAdminArns,
      ),
    }),
    requestScope: (requestId, fn) => {
      const scope = ports.requestScope;
      const request = scope === undefined ? fn : () => scope(requestId, fn);
      return reads === undefined ? request() : reads.run(request);
    },
    ...((ports.onLogin !== undefined || ports.loginCounters !== undefined) && {
      onLogin: (attempt: LoginAttempt) => {
        ports.loginCounters?.record(attempt);
        ports.onLogin?.(attempt);
      },
    }),
    system: {
      version: API_VERSION,
      runtime: ports.runtime,
      ...(ports.auditFile !== undefined && {
        auditVerify: () => ports.auditFile!.verify(),
        auditTail: (lines: number) => ports.auditFile!.tail(lines),
      }),
      ...(ports.loginCounters !== undefined && {
        loginMetrics: () => ports.loginCounters!.snapshot(),
      }),
      ...(keyRing?.create !== undefined && { createKey: keyRing.create }),
      ...(replicaFaults !== undefined && {
        replicationFaults: (fault: { region: string; down: boolean }) => ({
          down: replicaFaults.set(fault.region, fault.down),
        }),
      }),
      ...(rootKeyring !== undefined && {
        rotateRootKey: () => rotateRootKey({ keyring: rootKeyring, holders, clearCache: () => keyProvider.clear() }),
      }),
    },
  };
  return {
    deps,
    keyProvider,
    replicator,
    async close() {
      await dynamic.leases.drain();
      await dynamic.database.close();
      await postgres.close();
      await auditDevices.close();
      keyProvider.clear();
      keyRing?.clear();
    },
  };
}

/** The PKI engine's issued certificates as the compliance report counts them. */
export async function issuedCertificates(pki: PkiService): Promise<ComplianceCertificate[]> {
  return (await pki.listCertificates()).map((c) => ({
    serial: c.serial_number,
    notAfter: Date.parse(c.expiration),
    revoked: c.status === 'revoked',
  }));
}

function isDataKeyHolder(value: object): value is DataKeyHolder {
  return typeof (value as Partial<DataKeyHolder>).rewrapAll === 'function';
}
