/**
 * Names the CDK stack (`lib/`) and the Lambda functions must agree on: the stack creates alarms, dashboards and IAM
 * conditions on them, the functions emit and tag with them. This module imports nothing, so synthesising the stack
 * never loads a handler, an SDK client or an adapter (checked by `npm run layers`).
 */

/** The CloudWatch namespace of every Coffer metric (the CDK alarms and dashboard read the same constants). */
export const METRICS_NAMESPACE = 'Coffer';
/** Powertools' `service` dimension of the broker's metrics, and the logger's service name. */
export const SERVICE_NAME = 'coffer';
/** Requests the broker answered with a 5xx, or that threw. */
export const BROKER_ERRORS_METRIC = 'BrokerErrors';
/** KMS calls that failed (throttling, access denied, refused ciphertexts), counted per invocation. */
export const KMS_ERRORS_METRIC = 'KmsErrors';
/** Logins that got a token, with the dimensions `method` and `mount`. */
export const LOGIN_SUCCEEDED_METRIC = 'LoginSucceeded';
/** Logins whose credential was refused (brute force shows here first), with the dimensions `method` and `mount`. */
export const LOGIN_FAILED_METRIC = 'LoginFailed';
/** The `service` dimension Powertools adds to every metric of the audit relay; the lag alarm selects on it. */
export const RELAY_SERVICE_NAME = 'audit-relay';
/** Seconds since the oldest record still in the audit outbox was written (0 when it is empty). */
export const LAG_METRIC = 'AuditShippingLagSeconds';
/** The tag every KMS CA key gets; its value is the deployment name, and the broker's IAM grants require it. */
export const CA_KEY_TAG = 'coffer:ca';
/**
 * The tag a customer-managed KMS key must carry, valued with the deployment name, for secrets of that deployment to
 * name it (`KmsKeyId`): the broker's, rotation's and the lease sweeper's IAM grants on customer keys require it, so
 * tagging a key is how an account owner lets Coffer use it.
 */
export const CUSTOMER_KEY_TAG = 'coffer:secrets';

/**
 * The base path of token callers: `<api>/token/v1/…` (and `<api>/token/` for the Secrets Manager protocol) is the same
 * API for a Coffer token (one a login returned, say) instead of SigV4. Everywhere else only IAM callers are served.
 */
export const TOKEN_BASE_PATH = '/token';

/** The `service` dimension Powertools adds to every metric of the scheduled compliance function. */
export const COMPLIANCE_SERVICE_NAME = 'compliance';
/**
 * The CloudWatch metric of each compliance figure (`GET /v1/sys/compliance`'s metric ids, docs/compliance.md), as the
 * scheduled compliance function publishes it; a figure without a value (nothing to measure) is not published.
 */
export const COMPLIANCE_METRICS = {
  rotation_compliance: 'RotationCompliancePercent',
  rotation_overdue: 'RotationsOverdue',
  audit_completeness: 'AuditCompletenessPercent',
  unauthorised_attempt_rate: 'UnauthorisedAttemptPercent',
  authentication_success_rate: 'AuthenticationSuccessPercent',
  token_expiry_compliance: 'TokenExpiryCompliancePercent',
  stale_secrets: 'StaleSecrets',
  secrets_without_owner: 'SecretsWithoutOwner',
  expiring_certificates: 'ExpiringCertificates',
  expired_secrets: 'ExpiredSecrets',
  mean_time_to_rotate: 'MeanTimeToRotateSeconds',
  rotation_success_rate: 'RotationSuccessPercent',
  top_denied_principals: 'DeniedPrincipals',
} as const;
/** Requests of the window without one of their two audit records (the audit-completeness gaps). */
export const AUDIT_GAPS_METRIC = 'AuditGaps';
/** Audit hash chains of the window that did not verify. */
export const AUDIT_CHAINS_FAILED_METRIC = 'AuditChainsFailed';
/**
 * The request headers the web console sends (SigV4's, a token, a JSON body): the API's CORS preflights allow these
 * (`lib/coffer-api.ts`), for the console's origin only.
 */
export const CONSOLE_CORS_HEADERS = [
  'authorization',
  'content-type',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
  'x-coffer-token',
] as const;
