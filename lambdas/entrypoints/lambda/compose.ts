import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { KmsCaKeyStore } from '../../adapters/aws/kms-ca-signer/kms-ca-key-store.ts';
import { KmsKeyProvider } from '../../adapters/aws/kms-key-provider/kms-key-provider.ts';
import { DnsEgressGuard } from '../../adapters/egress/dns-egress-guard.ts';
import { Broker } from '../../broker/broker.ts';
import type { BrokerDeps } from '../../broker/broker-deps.ts';
import { API_VERSION, nativeRoutes } from '../../broker/routes/index.ts';
import { AuditHasher } from '../../core/audit/audit-hmac.ts';
import { AuditLog } from '../../core/audit/audit-log.ts';
import { AuditOutbox } from '../../core/audit/outbox/audit-outbox.ts';
import { OutboxAuditSink } from '../../core/audit/outbox/outbox-audit-sink.ts';
import { OutboxStore } from '../../core/audit/outbox/outbox-store.ts';
import { describeCaller, IamPrincipalService } from '../../core/auth/iam/iam-principal-service.ts';
import { TokenService } from '../../core/auth/token/token-service.ts';
import { CachingKeyProvider } from '../../core/crypto/data-key-cache.ts';
import { EgressPolicy } from '../../core/egress/egress-policy.ts';
import { ValidationError } from '../../core/errors.ts';
import { LeaseService } from '../../core/leases/lease-service.ts';
import type { ProviderRegistry } from '../../core/leases/lease-types.ts';
import { PolicyService } from '../../core/policy/policy-service.ts';
import { ROOT_POLICY_NAME } from '../../core/policy/policy-types.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import type { Store } from '../../core/ports/store.ts';
import type { Principal } from '../../core/principal.ts';
import { SecretService } from '../../core/secrets/secret-service.ts';
import { AwsEngine } from '../../engines/aws/aws-engine.ts';
import { DatabaseEngine } from '../../engines/database/database-engine.ts';
import { PostgresPlugin } from '../../engines/database/postgres/postgres-plugin.ts';
import { PkiService } from '../../engines/pki/pki-service.ts';
import { ApiKeyRegistry } from '../../engines/rotation/api-key/index.ts';
import { createApiGatewayHandler } from './api-gateway.ts';
import { composeRotation, createRotationClients, type RotationClients } from './compose-rotation.ts';
import { AuditSaltSchema, type AwsConfig, CA_KEY_TAG, loadAwsConfig } from './config.ts';

/** The SDK clients the broker talks through (no S3: its audit records go to the table's outbox). Injected ones belong to the caller (tests add middleware). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  /** Only needed when the audit salt comes from a secret (`COFFER_AUDIT_SALT_SECRET_ARN`). */
  readonly secretsManager?: SecretsManagerClient;
  /** For `aws/<role>` dynamic credentials (AssumeRole). @default a client of the configured region and endpoint */
  readonly sts?: STSClient;
  /** Rotation's Step Functions, Scheduler and EventBridge clients, used when rotation is configured. */
  readonly rotation?: RotationClients;
}

/** Builds the clients of `config`: its region, and its endpoint when an emulator is configured. */
export function createAwsClients(config: Pick<AwsConfig, 'region' | 'endpoint' | 'rotation'>): AwsClients {
  const common = { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
  return {
    dynamodb: new DynamoDBClient(common),
    kms: new KMSClient(common),
    secretsManager: new SecretsManagerClient(common),
    sts: new STSClient(common),
    ...(config.rotation !== undefined && { rotation: createRotationClients(config) }),
  };
}

/** The lease service and the dynamic-secret engines behind it, as the broker and the lease sweeper share them. */
export interface DynamicSecrets {
  readonly leases: LeaseService;
  readonly database: DatabaseEngine;
  readonly aws: AwsEngine;
}

/**
 * Builds the lease service over the database engine (PostgreSQL, its admin credential read from a Coffer secret
 * through `secrets`) and the STS engine. No timer: on AWS, expiry is enforced by the scheduled lease sweeper
 * (`lease-sweeper.ts`), never inside the broker.
 */
export function composeDynamicSecrets(options: {
  readonly store: Store;
  readonly secrets: SecretService;
  readonly clients: Pick<AwsClients, 'sts'>;
  readonly config: Pick<AwsConfig, 'region' | 'endpoint' | 'egressAllow'>;
  readonly clock: Clock;
  /** Records each read of a connection's admin credential. @default not recorded (the lease sweeper) */
  readonly audit?: AuditLog;
}): DynamicSecrets {
  const { store, secrets, clock, config, audit } = options;
  const egress = new DnsEgressGuard(EgressPolicy.parse(config.egressAllow));
  const database = new DatabaseEngine({
    store,
    clock,
    secrets,
    plugin: new PostgresPlugin(egress),
    ...(audit !== undefined && { audit }),
  });
  const sts =
    options.clients.sts ??
    new STSClient({ region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) });
  const aws = new AwsEngine({ store, sts });
  const providers = { database, aws } satisfies ProviderRegistry;
  return { leases: new LeaseService({ store, clock, providers }), database, aws };
}

/** The PKI engine with its CA keys in KMS, tagged `coffer:ca=<deployment name>` (what the broker's grants require). */
export function composePki(options: {
  readonly store: Store;
  readonly keyProvider: KeyProvider;
  readonly kms: KMSClient;
  readonly config: Pick<AwsConfig, 'publicUrl' | 'deploymentName'>;
  readonly clock: Clock;
}): PkiService {
  const caKeys = new KmsCaKeyStore({
    client: options.kms,
    description: `coffer (${options.config.deploymentName}) pki`,
    tags: { [CA_KEY_TAG]: options.config.deploymentName },
  });
  return new PkiService({
    store: options.store,
    keyProvider: options.keyProvider,
    caKeys,
    clock: options.clock,
    publicUrl: options.config.publicUrl,
  });
}

/** A configuration whose audit salt is at hand (given inline, or read by {@link resolveAuditSalt}). */
export type ResolvedAwsConfig = AwsConfig & { readonly auditSalt: Buffer };

/**
 * Reads the audit salt from Secrets Manager when the configuration names a secret, once per cold start.
 * @throws ValidationError naming `COFFER_AUDIT_SALT_SECRET_ARN` when the secret cannot be read or is not base64 of
 * at least 32 bytes. The message never contains the secret's value.
 */
export async function resolveAuditSalt(
  config: AwsConfig,
  client: Pick<SecretsManagerClient, 'send'> | undefined,
): Promise<ResolvedAwsConfig> {
  if (config.auditSalt !== undefined) return { ...config, auditSalt: config.auditSalt };
  const setting = 'invalid configuration COFFER_AUDIT_SALT_SECRET_ARN';
  if (client === undefined) throw new ValidationError(`${setting}: no Secrets Manager client to read it with`);
  let value: string | undefined;
  try {
    const output = await client.send(new GetSecretValueCommand({ SecretId: config.auditSaltSecretArn }));
    value = output.SecretString;
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    throw new ValidationError(`${setting}: the secret could not be read (${name})`, { cause: err });
  }
  const parsed = AuditSaltSchema.safeParse(value?.trim());
  if (!parsed.success) {
    throw new ValidationError(`${setting}: the secret's string ${parsed.error.issues[0]!.message}`);
  }
  return { ...config, auditSalt: Buffer.from(parsed.data, 'base64') };
}

/**
 * Wraps the IAM principal lookup so the deployment's bootstrap admins (`COFFER_BOOTSTRAP_ADMIN_ARNS`) always get the
 * built-in `root` policy, on top of whatever their mappings give. A role ARN also covers that role's STS sessions,
 * as with the stored mappings. Everyone else is resolved by `resolve` unchanged.
 */
export function withBootstrapAdmins(
  resolve: (arn: string) => Promise<Principal | undefined>,
  adminArns: readonly string[],
): (arn: string) => Promise<Principal | undefined> {
  if (adminArns.length === 0) return resolve;
  const admins = new Set(adminArns);
  return async (arn) => {
    const identity = describeCaller(arn);
    if (identity === undefined || !identity.candidates.some((candidate) => admins.has(candidate))) {
      return resolve(arn);
    }
    const mapped = await resolve(arn);
    return {
      type: 'iam',
      id: arn,
      displayName: identity.displayName,
      policies: [...new Set([ROOT_POLICY_NAME, ...(mapped?.policies ?? [])])].sort(),
      metadata: { ...identity.metadata, bootstrapAdmin: 'true' },
    };
  };
}

/**
 * The AWS runtime's composition root: the only place that knows which adapters a Lambda instance uses. Synchronous
 * and free of I/O, so it runs at cold start and a wiring error surfaces as an init failure.
 *
 * Audit goes through the outbox: every change made inside a request commits together with its audit records in one
 * DynamoDB transaction (`OutboxStore`), and the rest of a request's records are written before it answers
 * (`OutboxAuditSink`); the audit relay (`audit-relay.ts`) ships them to the hash-chained S3 log. There is no
 * `auditVerify`, `auditTail` or `rotateRootKey`: the log is verified offline with `verifyS3AuditStream`, and KMS
 * rotates the envelope key itself.
 *
 * Dynamic secrets (leases over the database and STS engines) and PKI (CA keys in KMS) are wired too; lease expiry
 * is enforced by the scheduled lease sweeper (`lease-sweeper.ts`), never by a timer in this function.
 *
 * Only callers that API Gateway authenticated with IAM (mapped by {@link IamPrincipalService}) or that present a
 * Coffer token are served: Coffer's own SigV4 access keys are not wired here, since API Gateway's IAM authoriser
 * already owns the `Authorization` header.
 */
export function composeAwsBroker(
  config: ResolvedAwsConfig,
  clients: AwsClients = createAwsClients(config),
  clock: Clock = systemClock,
): Broker {
  return new Broker(composeAwsDeps(config, clients, clock), nativeRoutes());
}

/** The broker's dependencies on AWS (see {@link composeAwsBroker}); exposed so tests can see what is wired. */
export function composeAwsDeps(
  config: ResolvedAwsConfig,
  clients: AwsClients = createAwsClients(config),
  clock: Clock = systemClock,
): BrokerDeps {
  const items = new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName });
  const outbox = new AuditOutbox({ store: items, clock });
  const store = new OutboxStore(items, outbox);
  const envelopeKey = new KmsKeyProvider({ client: clients.kms, keyId: config.envelopeKeyArn });
  const keyProvider = new CachingKeyProvider(envelopeKey, { clock });
  const audit = new AuditLog({
    sink: new OutboxAuditSink(outbox),
    hasher: new AuditHasher(config.auditSalt),
    clock,
  });
  const iamPrincipals = new IamPrincipalService({ store, clock });
  const secrets = new SecretService({ store, keyProvider, clock, region: config.region, account: config.account });
  const dynamic = composeDynamicSecrets({ store, secrets, clients, config, clock, audit });
  const pki = composePki({ store, keyProvider, kms: clients.kms, config, clock });
  const rotation =
    config.rotation === undefined
      ? undefined
      : composeRotation({
          store,
          secrets,
          audit,
          pki,
          clock,
          rotation: config.rotation,
          config,
          clients: clients.rotation,
        });
  return {
    secrets,
    tokens: new TokenService({ store, clock }),
    policies: new PolicyService({ store, clock }),
    audit,
    clock,
    iamPrincipals,
    resolveIamPrincipal: withBootstrapAdmins((arn) => iamPrincipals.resolve(arn), config.bootstrapAdminArns),
    system: { version: API_VERSION, runtime: 'aws' },
    requestScope: (requestId, fn) => outbox.run(requestId, fn),
    leases: dynamic.leases,
    database: dynamic.database,
    aws: dynamic.aws,
    pki,
    // Services check Coffer-managed API keys through the broker, on AWS as locally.
    apiKeys: new ApiKeyRegistry({ store, clock }),
    ...(rotation !== undefined && { rotation }),
  };
}

/**
 * Parses `env` and composes a broker behind API Gateway's proxy integration, synchronously: for an environment that
 * carries the audit salt inline (`COFFER_AUDIT_SALT`), as tests and emulators do. A deployment names a secret
 * instead; {@link loadLambdaHandler} reads it.
 * @throws ValidationError naming the bad setting.
 */
export function createLambdaHandler(env: NodeJS.ProcessEnv = process.env, clients?: AwsClients) {
  const config = loadAwsConfig(env);
  if (config.auditSalt === undefined) {
    throw new ValidationError(
      'invalid configuration COFFER_AUDIT_SALT_SECRET_ARN: the salt secret is read by loadLambdaHandler, not createLambdaHandler',
    );
  }
  return createApiGatewayHandler(composeAwsBroker({ ...config, auditSalt: config.auditSalt }, clients));
}

/**
 * What `handler.ts` runs at cold start: parses `config`, reads the audit salt secret if one is named, and composes the
 * broker. Any failure rejects, which fails the Lambda init phase with a message naming the setting.
 * @throws ValidationError naming the bad setting.
 */
export async function loadLambdaHandler(config: AwsConfig, clients: AwsClients = createAwsClients(config)) {
  const resolved = await resolveAuditSalt(config, clients.secretsManager);
  return createApiGatewayHandler(composeAwsBroker(resolved, clients));
}
