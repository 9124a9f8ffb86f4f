import { FeatureNotEnabledError } from '../core/errors.ts';
import type { BrokerDeps, SystemOperations } from './broker-deps.ts';

/**
 * The optional features a runtime may be composed with, declared once: the name of each (its key in
 * {@link BrokerDeps}, or in `system` for the runtime's own operations) and how a disabled one is named to callers.
 * Routes declare the feature they belong to (`RouteDef.feature`) and the broker refuses them with
 * {@link FeatureNotEnabledError} when it is off, after the route's own policy check and before anything else runs.
 */
export const FEATURES = {
  accessKeys: 'SigV4 signing with Coffer access keys',
  iamPrincipals: 'mapping IAM callers to principals',
  pki: 'the PKI engine',
  leases: 'the lease service',
  database: 'the database engine',
  aws: 'the aws engine',
  ssh: 'the SSH engine (certificate authority and one-time passwords)',
  oauth: 'the OAuth engine (access tokens from an authorisation server)',
  apiKeys: 'the Coffer-managed API key registry',
  rotation: 'rotation',
  authMounts: 'auth methods (AppRole, …) mounted at /v1/auth/<mount>',
  wrapping: 'response wrapping',
  quotas: 'rate-limit quotas',
  auditDevices: 'audit devices (sys/audit-devices): file, syslog, socket, s3',
  // Both runtimes offer it: the local node computes it live, the AWS broker answers the report its scheduled function
  // stored (a window of S3 audit objects does not fit an API Gateway request, nor the figures its 1 MB zip).
  compliance: 'the compliance report',
  keys: 'customer keys for secrets (KmsKeyId): named keys in the keyring, KMS keys on AWS',
  keyCreation: 'creating named keys in the keyring (on AWS, keys are created in KMS)',
  auditVerify: 'verifying the audit log through the API',
  auditTail: 'reading the audit log through the API',
  rootKeyRotation: 'rotating the root key through the API (KMS rotates the envelope key itself)',
  loginMetrics: 'login counters through the API (GET /v1/sys/metrics)',
  replicationFaults: 'injecting replication faults (COFFER_FAULT_INJECTION=1)',
} as const;

export type Feature = keyof typeof FEATURES;

type ServiceFeature = Exclude<
  Feature,
  'auditVerify' | 'auditTail' | 'rootKeyRotation' | 'loginMetrics' | 'keyCreation' | 'replicationFaults'
>;

/** Where each system feature lives in {@link SystemOperations}. */
const SYSTEM_FEATURES = {
  auditVerify: 'auditVerify',
  auditTail: 'auditTail',
  rootKeyRotation: 'rotateRootKey',
  loginMetrics: 'loginMetrics',
  keyCreation: 'createKey',
  replicationFaults: 'replicationFaults',
} as const satisfies Record<Exclude<Feature, ServiceFeature>, keyof SystemOperations>;

// Every optional service of BrokerDeps is a declared feature (the compiler says which one is missing).
type OptionalServices = {
  [K in keyof BrokerDeps]-?: undefined extends BrokerDeps[K] ? K : never;
}[keyof BrokerDeps];
type BrokerOptions = 'maxBodyBytes' | 'onAccessDecision' | 'onLogin' | 'requestScope' | 'sigv4' | 'resolveIamPrincipal';
const _everyOptionalServiceIsAFeature: Record<Exclude<OptionalServices, BrokerOptions>, true> = {
  accessKeys: true,
  iamPrincipals: true,
  pki: true,
  leases: true,
  database: true,
  aws: true,
  ssh: true,
  oauth: true,
  apiKeys: true,
  rotation: true,
  authMounts: true,
  wrapping: true,
  quotas: true,
  auditDevices: true,
  keys: true,
  compliance: true,
} satisfies Record<ServiceFeature, true>;
void _everyOptionalServiceIsAFeature;

export const ALL_FEATURES = Object.keys(FEATURES) as Feature[];

export function isEnabled(deps: BrokerDeps, feature: Feature): boolean {
  if (feature in SYSTEM_FEATURES) {
    return deps.system[SYSTEM_FEATURES[feature as keyof typeof SYSTEM_FEATURES]] !== undefined;
  }
  return deps[feature as ServiceFeature] !== undefined;
}

/** The features `deps` was composed with, in declaration order. */
export function enabledFeatures(deps: BrokerDeps): Feature[] {
  return ALL_FEATURES.filter((feature) => isEnabled(deps, feature));
}

export function featureNotEnabled(deps: BrokerDeps, feature: Feature): FeatureNotEnabledError {
  return new FeatureNotEnabledError(feature, FEATURES[feature], deps.system.runtime);
}

/**
 * The service of an optional feature, or the one "not enabled" error.
 * @throws FeatureNotEnabledError when the runtime was composed without it.
 */
export function requireService<F extends ServiceFeature>(deps: BrokerDeps, feature: F): NonNullable<BrokerDeps[F]> {
  const service = deps[feature];
  if (service === undefined) throw featureNotEnabled(deps, feature);
  return service as NonNullable<BrokerDeps[F]>;
}

/**
 * One of the runtime's own operations, or the one "not enabled" error.
 * @throws FeatureNotEnabledError when the runtime does not offer it.
 */
export function requireSystem<F extends keyof typeof SYSTEM_FEATURES>(
  deps: BrokerDeps,
  feature: F,
): NonNullable<SystemOperations[(typeof SYSTEM_FEATURES)[F]]> {
  const operation = deps.system[SYSTEM_FEATURES[feature]];
  if (operation === undefined) throw featureNotEnabled(deps, feature);
  return operation as NonNullable<SystemOperations[(typeof SYSTEM_FEATURES)[F]]>;
}

/** Refuses a request for a route whose feature (any of them, when it names several) is off. */
export function checkFeatures(deps: BrokerDeps, features: Feature | readonly Feature[] | undefined): void {
  if (features === undefined) return;
  for (const feature of typeof features === 'string' ? [features] : features) {
    if (!isEnabled(deps, feature)) throw featureNotEnabled(deps, feature);
  }
}

/**
 * The features only one runtime offers, and why. Every other feature is composed alike on both runtimes (a test
 * holds `composeServices` to it).
 */
export const RUNTIME_ONLY: Readonly<
  Partial<Record<Feature, { readonly runtime: 'local' | 'aws'; readonly why: string }>>
> = {
  accessKeys: {
    runtime: 'local',
    why: "on AWS, API Gateway's IAM authoriser owns the Authorization header: callers sign as IAM principals",
  },
  iamPrincipals: { runtime: 'aws', why: 'IAM callers arrive authenticated by API Gateway; the local node has no IAM' },
  auditVerify: { runtime: 'local', why: 'the S3 audit log is verified offline (verifyS3AuditStream)' },
  auditTail: { runtime: 'local', why: 'the S3 audit log is read from S3 (and CloudTrail), not through the broker' },
  rootKeyRotation: { runtime: 'local', why: 'KMS rotates the envelope key itself' },
  keyCreation: {
    runtime: 'local',
    why: 'on AWS, customer keys are KMS keys: create them in KMS and name them by alias',
  },
  loginMetrics: {
    runtime: 'local',
    why: 'each function instance counts only its own logins: CloudWatch has the totals (LoginSucceeded/LoginFailed)',
  },
  replicationFaults: {
    runtime: 'local',
    why: "a test switch of the local replicator; on AWS a replica region fails for real, as DynamoDB's replica does",
  },
};
