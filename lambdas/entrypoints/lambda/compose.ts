import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { KmsKeyProvider } from '../../adapters/aws/kms-key-provider/kms-key-provider.ts';
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
import { ValidationError } from '../../core/errors.ts';
import { PolicyService } from '../../core/policy/policy-service.ts';
import { ROOT_POLICY_NAME } from '../../core/policy/policy-types.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { Principal } from '../../core/principal.ts';
import { SecretService } from '../../core/secrets/secret-service.ts';
import { createApiGatewayHandler } from './api-gateway.ts';
import { AuditSaltSchema, type AwsConfig, loadAwsConfig } from './config.ts';

/** The SDK clients the broker talks through (no S3: its audit records go to the table's outbox). Injected ones belong to the caller (tests add middleware). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  /** Only needed when the audit salt comes from a secret (`COFFER_AUDIT_SALT_SECRET_ARN`). */
  readonly secretsManager?: SecretsManagerClient;
}

/** Builds the clients of `config`: its region, and its endpoint when an emulator is configured. */
export function createAwsClients(config: Pick<AwsConfig, 'region' | 'endpoint'>): AwsClients {
  const common = { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
  return {
    dynamodb: new DynamoDBClient(common),
    kms: new KMSClient(common),
    secretsManager: new SecretsManagerClient(common),
  };
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
 * Only callers that API Gateway authenticated with IAM (mapped by {@link IamPrincipalService}) or that present a
 * Coffer token are served: Coffer's own SigV4 access keys are not wired here, since API Gateway's IAM authoriser
 * already owns the `Authorization` header.
 */
export function composeAwsBroker(
  config: ResolvedAwsConfig,
  clients: AwsClients = createAwsClients(config),
  clock: Clock = systemClock,
): Broker {
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
  const deps: BrokerDeps = {
    secrets: new SecretService({ store, keyProvider, clock, region: config.region, account: config.account }),
    tokens: new TokenService({ store, clock }),
    policies: new PolicyService({ store, clock }),
    audit,
    clock,
    resolveIamPrincipal: withBootstrapAdmins((arn) => iamPrincipals.resolve(arn), config.bootstrapAdminArns),
    system: { version: API_VERSION, runtime: 'aws' },
    requestScope: (requestId, fn) => outbox.run(requestId, fn),
  };
  return new Broker(deps, nativeRoutes());
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
