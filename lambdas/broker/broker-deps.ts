import type { AuditLog } from '../core/audit/audit-log.ts';
import type { AuditDeviceService } from '../core/audit/devices/audit-device-service.ts';
import type { VerifyResult } from '../core/audit/hash-chain.ts';
import type { IamPrincipalService } from '../core/auth/iam/iam-principal-service.ts';
import type { AuthMountService } from '../core/auth/methods/auth-mount-service.ts';
import type { LoginMetrics } from '../core/auth/methods/login-counters.ts';
import type { AccessKeyService } from '../core/auth/sigv4/access-key-service.ts';
import type { SigV4Verifier } from '../core/auth/sigv4/sigv4-verifier.ts';
import type { TokenService } from '../core/auth/token/token-service.ts';
import type { ComplianceService } from '../core/compliance/compliance-service.ts';
import type { LeaseService } from '../core/leases/lease-service.ts';
import type { PolicyService } from '../core/policy/policy-service.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { CustomerKey, KeyRing } from '../core/ports/key-ring.ts';
import type { Principal } from '../core/principal.ts';
import type { QuotaService } from '../core/quota/quota-service.ts';
import type { RotationService } from '../core/rotation/rotation-service.ts';
import type { RegionalSecrets } from '../core/secrets/regional-secrets.ts';
import type { ReplicationService } from '../core/secrets/replication/replication-service.ts';
import type { SecretService } from '../core/secrets/secret-service.ts';
import type { ResponseWrapping } from '../core/wrapping/response-wrapping.ts';
import type { AwsEngine } from '../engines/aws/aws-engine.ts';
import type { DatabaseEngine } from '../engines/database/database-engine.ts';
import type { OAuthService } from '../engines/oauth/oauth-service.ts';
import type { PkiService } from '../engines/pki/pki-service.ts';
import type { ApiKeyRegistry } from '../engines/rotation/api-key/api-key-registry.ts';
import type { SshService } from '../engines/ssh/ssh-service.ts';

/** Operations that only some runtimes offer (the local file keyring and file audit log). */
export interface SystemOperations {
  readonly version: string;
  readonly runtime: 'local' | 'aws';
  readonly auditVerify?: () => Promise<VerifyResult>;
  readonly auditTail?: (lines: number) => Promise<string[]>;
  readonly rotateRootKey?: () => Promise<{ keyId: string; rewrapped: number; retired: string[] }>;
  /** Creates a named key in the local keyring (`coffer keyring key create`). */
  readonly createKey?: (alias: string) => Promise<CustomerKey>;
  /** Logins counted by method and mount since the node started (`GET /v1/sys/metrics`). */
  readonly loginMetrics?: () => LoginMetrics;
  /** Marks a replica region down or up (`COFFER_FAULT_INJECTION=1`); returns the regions down. */
  readonly replicationFaults?: (fault: { region: string; down: boolean }) => { down: string[] };
}

/** One policy decision the broker made for a request. */
export interface AccessDecision {
  readonly requestId: string;
  readonly path: string;
  readonly capability: string;
  readonly allowed: boolean;
  /** `enforce` for checks that refuse the request, `filter` for checks that only leave items out. */
  readonly kind: 'enforce' | 'filter';
}

/**
 * One login attempt that reached a mounted method, as the login metrics count it: method and mount only, never the
 * role, the user or any part of the credential (metric dimensions are visible to whoever reads the metrics, and must
 * stay few: an unmounted path never gets here).
 */
export interface LoginAttempt {
  readonly method: string;
  readonly mount: string;
  /** `false` for a refused credential (the 403 of `LoginFailedError`). */
  readonly succeeded: boolean;
}

/** Everything the broker needs, built by one composition root per runtime. */
export interface BrokerDeps {
  /** The home region's secrets (`regionalSecrets.home`): rotation, leases and the engines use these. */
  readonly secrets: SecretService;
  /** Every region's secrets; a request acts on its own region's (`RouteContext.region`). */
  readonly regionalSecrets: RegionalSecrets;
  /** Replication of secrets between regions (ReplicateSecretToRegions and the rest). */
  readonly replication: ReplicationService;
  readonly tokens: TokenService;
  /** Response wrapping: single-use wrapping tokens standing in for an answer (`X-Coffer-Wrap-TTL`). */
  readonly wrapping?: ResponseWrapping;
  /** Coffer-issued access keys for SigV4-signed requests; absent where only tokens (and API Gateway IAM) apply. */
  readonly accessKeys?: AccessKeyService;
  readonly sigv4?: SigV4Verifier;
  readonly policies: PolicyService;
  readonly audit: AuditLog;
  /** The audit devices besides the built-in one (`sys/audit-devices`). */
  readonly auditDevices?: AuditDeviceService;
  readonly clock: Clock;
  readonly system: SystemOperations;
  /** The IAM caller mappings, managed through the API; absent where IAM callers are not accepted. */
  readonly iamPrincipals?: IamPrincipalService;
  /** Maps an IAM ARN (from API Gateway) to a principal; absent where IAM callers are not accepted. */
  readonly resolveIamPrincipal?: (arn: string) => Promise<Principal | undefined>;
  /** @default 1_048_576 */
  readonly maxBodyBytes?: number;
  /** The PKI engine (CAs, roles, issue/sign, CRL); absent where it is not enabled. */
  readonly pki?: PkiService;
  /** Leases of dynamic credentials (issue, renew, revoke, revoke-prefix); absent where not enabled. */
  readonly leases?: LeaseService;
  /** The database secrets engine (connection configs and roles); absent where not enabled. */
  readonly database?: DatabaseEngine;
  /** Short-lived AWS credentials (STS AssumeRole); absent where not enabled. */
  readonly aws?: AwsEngine;
  /** The SSH engine: a CA signing users' keys, and one-time passwords; absent where not enabled. */
  readonly ssh?: SshService;
  readonly oauth?: OAuthService;
  /** Coffer-managed API keys, validated for services by `POST /v1/apikeys/validate`; absent where not enabled. */
  readonly apiKeys?: ApiKeyRegistry;
  /** Rotation (configs, on-demand and breach rotations, status); absent where not enabled. */
  readonly rotation?: RotationService;
  /** Auth methods (AppRole, …): mounts, their roles and logins; absent where not enabled. */
  readonly authMounts?: AuthMountService;
  /** Customer keys a secret may name (`KmsKeyId`, `kmsKeyId`); absent where not enabled. */
  readonly keys?: KeyRing;
  /** Rate-limit quotas (`sys/quotas/rate-limit`), enforced on every request; absent where not enabled. */
  readonly quotas?: QuotaService;
  /** The compliance report (`GET /v1/sys/compliance`); composed on both runtimes. */
  readonly compliance?: ComplianceService;
  /**
   * Told of every access decision (enforced or filtering), for metrics and for the test harness that proves no
   * request touches a record it was not authorised for. Must not throw.
   * @default none
   */
  readonly onAccessDecision?: (decision: AccessDecision) => void;
  /**
   * Told of every login that succeeded or whose credential was refused, for the `LoginSucceeded`/`LoginFailed`
   * metrics. Must not throw. @default none
   */
  readonly onLogin?: (attempt: LoginAttempt) => void;
  /**
   * Wraps the handling of each request, e.g. in the audit outbox's per-request scope (`AuditOutbox.run`). If it
   * rejects, the request fails with the mapped error.
   * @default none: requests run unwrapped
   */
  readonly requestScope?: <T>(requestId: string, fn: () => Promise<T>) => Promise<T>;
}
