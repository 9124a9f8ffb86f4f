import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { KmsKeyProvider } from '../../adapters/aws/kms-key-provider/kms-key-provider.ts';
import { S3AuditSink } from '../../adapters/aws/s3-audit/s3-audit-sink.ts';
import { Broker } from '../../broker/broker.ts';
import type { BrokerDeps } from '../../broker/broker-deps.ts';
import { API_VERSION, nativeRoutes } from '../../broker/routes/index.ts';
import { AuditHasher } from '../../core/audit/audit-hmac.ts';
import { AuditLog } from '../../core/audit/audit-log.ts';
import { IamPrincipalService } from '../../core/auth/iam/iam-principal-service.ts';
import { TokenService } from '../../core/auth/token/token-service.ts';
import { CachingKeyProvider } from '../../core/crypto/data-key-cache.ts';
import { PolicyService } from '../../core/policy/policy-service.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import { SecretService } from '../../core/secrets/secret-service.ts';
import { createApiGatewayHandler } from './api-gateway.ts';
import { type AwsConfig, loadAwsConfig } from './config.ts';

/** The SDK clients the AWS runtime talks through. Injected ones belong to the caller (tests add middleware). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  readonly s3: S3Client;
}

/** Builds the clients of `config`: its region, and its endpoint when an emulator is configured. */
export function createAwsClients(config: Pick<AwsConfig, 'region' | 'endpoint'>): AwsClients {
  const common = { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
  return {
    dynamodb: new DynamoDBClient(common),
    kms: new KMSClient(common),
    // Emulators serve buckets by path, not by virtual host.
    s3: new S3Client({ ...common, forcePathStyle: config.endpoint !== undefined }),
  };
}

/**
 * The AWS runtime's composition root: the only place that knows which adapters a Lambda instance uses. Synchronous
 * and free of I/O, so it runs at cold start and a wiring error surfaces as an init failure.
 *
 * Each instance writes its own audit stream (the sink's default stream id: start time plus random suffix), so
 * concurrent instances never contend for one chain head. There is no `auditVerify`, `auditTail` or `rotateRootKey`:
 * streams are verified offline with `verifyS3AuditStream`, and KMS rotates the envelope key itself.
 *
 * Only callers that API Gateway authenticated with IAM (mapped by {@link IamPrincipalService}) or that present a
 * Coffer token are served: Coffer's own SigV4 access keys are not wired here, since API Gateway's IAM authoriser
 * already owns the `Authorization` header.
 */
export function composeAwsBroker(
  config: AwsConfig,
  clients: AwsClients = createAwsClients(config),
  clock: Clock = systemClock,
): Broker {
  const store = new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName });
  const envelopeKey = new KmsKeyProvider({ client: clients.kms, keyId: config.envelopeKeyArn });
  const keyProvider = new CachingKeyProvider(envelopeKey, { clock });
  const audit = new AuditLog({
    sink: new S3AuditSink({ client: clients.s3, bucket: config.auditBucket, clock }),
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
    resolveIamPrincipal: (arn) => iamPrincipals.resolve(arn),
    system: { version: API_VERSION, runtime: 'aws' },
  };
  return new Broker(deps, nativeRoutes());
}

/**
 * Parses `env` and composes a broker behind API Gateway's proxy integration: what `handler.ts` runs at module load,
 * and what tests call with their own environment and clients.
 * @throws ValidationError naming the bad setting.
 */
export function createLambdaHandler(env: NodeJS.ProcessEnv = process.env, clients?: AwsClients) {
  return createApiGatewayHandler(composeAwsBroker(loadAwsConfig(env), clients));
}
