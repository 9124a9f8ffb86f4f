import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDbRateLimitCounters } from '../../adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { KmsCaKeyStore } from '../../adapters/aws/kms-ca-signer/kms-ca-key-store.ts';
import { KmsKeyProvider } from '../../adapters/aws/kms-key-provider/kms-key-provider.ts';
import { KmsKeyRing } from '../../adapters/aws/kms-key-provider/kms-key-ring.ts';
import { DnsEgressGuard } from '../../adapters/egress/dns-egress-guard.ts';
import { Broker } from '../../broker/broker.ts';
import type { BrokerDeps } from '../../broker/broker-deps.ts';
import { nativeRoutes } from '../../broker/routes/index.ts';
import type { AuditLog } from '../../core/audit/audit-log.ts';
import { AuditOutbox } from '../../core/audit/outbox/audit-outbox.ts';
import { OutboxAuditSink } from '../../core/audit/outbox/outbox-audit-sink.ts';
import { OutboxStore } from '../../core/audit/outbox/outbox-store.ts';
import { storedReportReader } from '../../core/compliance/stored-report.ts';
import { EgressPolicy } from '../../core/egress/egress-policy.ts';
import { ValidationError } from '../../core/errors.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import type { Store } from '../../core/ports/store.ts';
import type { SecretService } from '../../core/secrets/secret-service.ts';
import { PostgresSessions } from '../../engines/shared/postgres/postgres-sessions.ts';
import {
  composeDynamicSecrets as composeNeutralDynamicSecrets,
  composeServices,
  type DynamicSecrets,
  type RuntimePorts,
} from '../compose-services.ts';
import { NETWORK_AUDIT_DEVICE_TYPES, openNetworkAuditDevice } from '../network-audit-devices.ts';
import { createApiGatewayHandler } from './api-gateway.ts';
import { awsRotationPorts, createRotationClients, type RotationClients } from './compose-rotation.ts';
import { AuditSaltSchema, type AwsConfig, loadAwsConfig } from './config.ts';
import { CA_KEY_TAG } from './deployment-names.ts';

/** What `auth enable ldap` answers on a broker outside a VPC, which has no route to a directory. */
export const LDAP_NEEDS_VPC =
  'LDAP needs the broker in a VPC: deploy the stack with the ldap option (CofferStack props ldap: { vpc, subnets? })';

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

export { withBootstrapAdmins } from '../../core/auth/iam/bootstrap-admins.ts';
export type { DynamicSecrets } from '../compose-services.ts';

/**
 * The dynamic-secret engines of a deployment, as the lease sweeper uses them (no audit of admin-credential reads: the
 * sweeper only revokes). The broker gets the same engines from {@link composeServices}.
 */
export function composeDynamicSecrets(options: {
  readonly store: Store;
  readonly secrets: SecretService;
  readonly clients: Pick<AwsClients, 'sts'>;
  readonly config: Pick<AwsConfig, 'region' | 'endpoint' | 'egressAllow'>;
  readonly clock: Clock;
  /** The envelope key: the OAuth engine opens its client credential and the tokens it revokes with it. */
  readonly keyProvider: KeyProvider;
  readonly audit?: AuditLog;
}): DynamicSecrets {
  const { config } = options;
  return composeNeutralDynamicSecrets({
    store: options.store,
    secrets: options.secrets,
    clock: options.clock,
    egress: new DnsEgressGuard(EgressPolicy.parse(config.egressAllow)),
    // One per function instance: idle sessions close on their own, and the instance ends with its sessions.
    postgres: new PostgresSessions(),
    sts: options.clients.sts ?? stsClient(config),
    keyProvider: options.keyProvider,
    ...(options.audit !== undefined && { audit: options.audit }),
  });
}

function stsClient(config: Pick<AwsConfig, 'region' | 'endpoint'>): STSClient {
  return new STSClient({ region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) });
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
 * Only callers that API Gateway authenticated with IAM (mapped by {@link IamPrincipalService}) are served; a request
 * without an IAM identity reaches only the routes that need no authentication (health, logins), whatever token it
 * carries (`BrokerRequest.iamOnly`). Coffer's own SigV4 access keys are not wired here, since API Gateway's IAM
 * authoriser already owns the `Authorization` header.
 */
export function composeAwsBroker(
  config: ResolvedAwsConfig,
  clients: AwsClients = createAwsClients(config),
  clock: Clock = systemClock,
  telemetry: AwsTelemetry = {},
): Broker {
  return new Broker(composeAwsDeps(config, clients, clock, telemetry), nativeRoutes());
}

/** What the function reports beyond its answers: the metric hooks `handler.ts` wires to Powertools. */
export interface AwsTelemetry {
  /** Counts logins (`LoginSucceeded`/`LoginFailed`, see `observability.ts`). @default not counted */
  readonly onLogin?: BrokerDeps['onLogin'];
}

/** The broker's dependencies on AWS (see {@link composeAwsBroker}); exposed so tests can see what is wired. */
export function composeAwsDeps(
  config: ResolvedAwsConfig,
  clients: AwsClients = createAwsClients(config),
  clock: Clock = systemClock,
  telemetry: AwsTelemetry = {},
): BrokerDeps {
  return composeServices({ ...awsPorts(config, clients, clock), ...telemetry }).deps;
}

/** How long a function instance writes to the devices it loaded before it reads the set again (one item read). */
const AUDIT_DEVICE_REFRESH_MS = 10_000;

/** The AWS runtime's ports: DynamoDB behind the audit outbox, KMS, CA keys in KMS, Step Functions. */
export function awsPorts(config: ResolvedAwsConfig, clients: AwsClients, clock: Clock): RuntimePorts {
  const items = new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName });
  const outbox = new AuditOutbox({
    store: items,
    clock,
    ...(config.outboxScope !== undefined && { scope: config.outboxScope }),
  });
  return {
    runtime: 'aws',
    clock,
    store: new OutboxStore(items, outbox),
    // Beside the items, outside the outbox: a counter is no change to audit, and every instance shares it.
    rateLimitCounters: new DynamoDbRateLimitCounters({ client: clients.dynamodb, tableName: config.tableName }),
    envelopeKey: new KmsKeyProvider({ client: clients.kms, keyId: config.envelopeKeyArn }),
    // Customer keys of the deployment's account; the broker's IAM grant on them is the stack's (see lib/).
    keyRing: new KmsKeyRing({ client: clients.kms, account: config.account, region: config.region }),
    audit: {
      sink: new OutboxAuditSink(outbox),
      salt: config.auditSalt,
      builtin: { path: 's3', type: 's3' },
      // Sent by the broker function itself, per request, through the egress guard (the function needs a route out).
      devices: (egress) => ({
        types: NETWORK_AUDIT_DEVICE_TYPES,
        open: async (device) => {
          const sink = openNetworkAuditDevice(device, egress);
          if (sink === undefined) throw new Error(`${device.type} audit devices are not offered on AWS`);
          return sink;
        },
      }),
      // Every instance reloads the enabled devices at most this stale, so an enable or disable reaches all of them.
      deviceRefreshMs: AUDIT_DEVICE_REFRESH_MS,
    },
    // Tagged `coffer:ca=<deployment name>`: what the broker's grants on KMS require.
    caKeys: () =>
      new KmsCaKeyStore({
        client: clients.kms,
        description: `coffer (${config.deploymentName}) pki`,
        tags: { [CA_KEY_TAG]: config.deploymentName },
      }),
    sts: clients.sts ?? stsClient(config),
    settings: {
      region: config.region,
      ...(config.storeRegion !== undefined && { storeRegion: config.storeRegion }),
      account: config.account,
      publicUrl: config.publicUrl,
      egressAllow: config.egressAllow,
      ...(!config.brokerInVpc && { ldapUnavailable: LDAP_NEEDS_VPC }),
    },
    ...(config.rotation !== undefined && {
      rotation: awsRotationPorts(config.rotation, config, clients.rotation),
    }),
    iamCallers: { bootstrapAdminArns: config.bootstrapAdminArns },
    requestScope: (requestId, fn) => outbox.run(requestId, fn),
    // Reading a window of S3 audit objects does not fit an API Gateway request (29 s): the broker answers the report
    // the scheduled compliance function stored (compliance-metrics.ts), which overrides this with the computation.
    computeComplianceReport: storedReportReader(items),
  };
}

/**
 * Parses `env` and composes a broker behind API Gateway's proxy integration, synchronously: for an environment that
 * carries the audit salt inline (`COFFER_AUDIT_SALT`), as tests and emulators do. A deployment names a secret
 * instead; {@link loadLambdaHandler} reads it.
 * @throws ValidationError naming the bad setting.
 */
export function createLambdaHandler(
  env: NodeJS.ProcessEnv = process.env,
  clients?: AwsClients,
  telemetry: AwsTelemetry = {},
) {
  const config = loadAwsConfig(env);
  if (config.auditSalt === undefined) {
    throw new ValidationError(
      'invalid configuration COFFER_AUDIT_SALT_SECRET_ARN: the salt secret is read by loadLambdaHandler, not createLambdaHandler',
    );
  }
  return createApiGatewayHandler(
    composeAwsBroker({ ...config, auditSalt: config.auditSalt }, clients, systemClock, telemetry),
    { consoleOrigin: config.consoleOrigin },
  );
}

/**
 * What `handler.ts` runs at cold start: parses `config`, reads the audit salt secret if one is named, and composes the
 * broker. Any failure rejects, which fails the Lambda init phase with a message naming the setting.
 * @throws ValidationError naming the bad setting.
 */
export async function loadLambdaHandler(
  config: AwsConfig,
  clients: AwsClients = createAwsClients(config),
  telemetry: AwsTelemetry = {},
) {
  const resolved = await resolveAuditSalt(config, clients.secretsManager);
  return createApiGatewayHandler(composeAwsBroker(resolved, clients, systemClock, telemetry), {
    consoleOrigin: config.consoleOrigin,
  });
}
