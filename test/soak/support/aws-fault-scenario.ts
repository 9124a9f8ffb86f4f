import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectLockConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { verifyS3AuditStream } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { outboxPartition } from '../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { IamPrincipalService } from '../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { PolicyService } from '../../../lambdas/core/policy/policy-service.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import type { ApiGatewayProxyEvent } from '../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { createAuditRelayHandler } from '../../../lambdas/entrypoints/lambda/audit-relay.ts';
import { createLambdaHandler } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { apiGatewayEvent } from '../../support/api-gateway-event.ts';
import { createItemsTable, type EmulatorClientConfig, uniqueName } from '../../support/aws-emulator.ts';
import { Rng } from '../malformed/prng.ts';
import {
  FAULTS,
  type Fault,
  type FaultTally,
  FaultyHttpHandler,
  newFaultTally,
  tagCalls,
} from './faulty-http-handler.ts';

const ACCOUNT = '123456789012';
const APP = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/soak`;
const PREFIX = 'audit/';

export interface AwsFaultScenarioOptions {
  readonly emulator: EmulatorClientConfig;
  readonly seed: number;
  /** Broker requests (secret writes and reads) sent through the faulty clients. */
  readonly requests: number;
  /** Fraction of HTTP attempts that get a fault. */
  readonly faultRate: number;
  readonly faults?: readonly Fault[];
  readonly log?: (line: string) => void;
  /** Stop sending requests after this (Date.now() ms); the checks still run. */
  readonly stopAt?: number;
}

export interface AwsFaultScenarioResult {
  readonly counts: Record<string, number>;
  readonly failures: string[];
}

function event(method: string, path: string, body?: unknown): ApiGatewayProxyEvent {
  return apiGatewayEvent(method, path, body, { userArn: APP });
}

/**
 * Secret writes and reads through the real Lambda broker, its DynamoDB and KMS clients injecting throttling, 500s,
 * timeouts, delays and lost responses (see {@link FaultyHttpHandler}); then the audit relay, on a faulty DynamoDB and
 * S3, run until the outbox is empty. Afterwards, through clean clients:
 * - every acknowledged write is what a read returns (or a later write whose answer was an error: it may have applied);
 * - no secret has two versions of one write (a retried write applied twice);
 * - the S3 audit chain verifies, every acknowledged request's `request` and `response` records are in it exactly
 *   once, no record is in it twice, and the outbox is empty;
 * - no SDK call made more HTTP attempts than its client's `maxAttempts` (the SDK defaults: DynamoDB 4, KMS and S3 3).
 * A 503 is allowed (the honest answer when faults outlast the retries) and counted by its code: a dependency that
 * throttles or fails through its retries is `dependency_unavailable` with `Retry-After`, an outbox write that could not
 * be made `audit_unavailable`. Any other 5xx (a 500 is an internal error) is a failure.
 */
export async function runAwsFaultScenario(options: AwsFaultScenarioOptions): Promise<AwsFaultScenarioResult> {
  const { emulator, seed } = options;
  const log = options.log ?? (() => {});
  const failures: string[] = [];
  const counts: Record<string, number> = { seed };
  const bump = (key: string, by = 1) => (counts[key] = (counts[key] ?? 0) + by);
  const fail = (line: string) => {
    bump('failures');
    if (failures.length < 50) failures.push(line);
  };
  /** A request that was not served: only a 503 that says why, and when to come back if it can say, is honest. */
  const refused = (what: string, res: { statusCode: number; headers: Record<string, string>; body: string }) => {
    if (res.statusCode !== 503) {
      fail(`${what} answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
      return;
    }
    const code = (JSON.parse(res.body) as { error?: { code?: string } }).error?.code ?? 'none';
    bump(`503.${code}`);
    if (code !== 'dependency_unavailable' && code !== 'audit_unavailable') {
      fail(`${what} answered 503 ${code}: ${res.body.slice(0, 200)}`);
    } else if (code === 'dependency_unavailable' && res.headers['retry-after'] === undefined) {
      fail(`${what} answered 503 ${code} without Retry-After`);
    }
  };

  // moto does not isolate DynamoDB transactions (see test/integration/aws/dynamodb-store.test.ts): one at a time.
  const clean = {
    dynamodb: new DynamoDBClient({ ...emulator, requestHandler: { httpAgent: { maxSockets: 1 } } }),
    kms: new KMSClient(emulator),
    s3: new S3Client({ ...emulator, forcePathStyle: true }),
  };
  const tally: FaultTally = newFaultTally();
  const handler = (stream: number) =>
    new FaultyHttpHandler(new Rng(seed + stream), options.faultRate, tally, options.faults ?? FAULTS);
  const faulty = {
    dynamodb: new DynamoDBClient({ ...emulator, requestHandler: handler(1) }),
    kms: new KMSClient({ ...emulator, requestHandler: handler(2) }),
    s3: new S3Client({ ...emulator, forcePathStyle: true, requestHandler: handler(3) }),
    relayDynamodb: new DynamoDBClient({ ...emulator, requestHandler: handler(4) }),
  };
  tagCalls(faulty.dynamodb, 'ddb');
  tagCalls(faulty.kms, 'kms');
  tagCalls(faulty.s3, 's3');
  tagCalls(faulty.relayDynamodb, 'relay');

  const tableName = uniqueName('coffer-faults');
  const bucket = uniqueName('coffer-faults-audit');
  const streamId = uniqueName('faults');
  await createItemsTable(clean.dynamodb, tableName);
  try {
    const key = await clean.kms.send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }),
    );
    await clean.s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    await clean.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
        },
      }),
    );
    const store = new DynamoDbStore({ client: clean.dynamodb, tableName });
    await new PolicyService({ store, clock: systemClock }).put({
      name: 'app',
      rules: [{ path: 'secrets/app/*', capabilities: ['create', 'read', 'update', 'list'] }],
    });
    await new IamPrincipalService({ store, clock: systemClock }).put(`arn:aws:iam::${ACCOUNT}:role/app-role`, ['app']);
    const env = {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: key.KeyMetadata!.Arn!,
      COFFER_AUDIT_BUCKET: bucket,
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      COFFER_AUDIT_STREAM: streamId,
      AWS_REGION: emulator.region,
      COFFER_ACCOUNT_ID: ACCOUNT,
    };
    const broker = createLambdaHandler(env, { dynamodb: faulty.dynamodb, kms: faulty.kms });
    const checker = createLambdaHandler(env, { dynamodb: clean.dynamodb, kms: clean.kms });
    const relay = createAuditRelayHandler(env, {
      clients: { dynamodb: faulty.relayDynamodb, s3: faulty.s3 },
      logger: { error: () => {} },
      metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined },
    });

    const rng = new Rng(seed);
    const names = Array.from({ length: 12 }, (_, i) => `app/s${i}`);
    /** Per secret: the last acknowledged value, values written since whose answer was an error, and puts sent. */
    const state = new Map<string, { acked: string | undefined; maybe: Set<string>; puts: number }>();
    const acknowledged = new Set<string>();
    let sent = 0;
    for (let i = 0; i < options.requests; i++) {
      if (options.stopAt !== undefined && Date.now() > options.stopAt) break;
      const name = rng.pick(names);
      const entry = state.get(name) ?? { acked: undefined, maybe: new Set<string>(), puts: 0 };
      state.set(name, entry);
      sent++;
      if (rng.chance(0.6)) {
        const value = `v${i}-${randomBytes(4).toString('hex')}`;
        entry.puts++;
        const res = await broker(event('PUT', `/v1/secret/data/${name}`, { value }));
        bump(`put.${res.statusCode}`);
        if (res.statusCode === 200) {
          entry.acked = value;
          entry.maybe.clear();
          acknowledged.add(res.headers['x-request-id']!);
        } else {
          entry.maybe.add(value);
          refused(`PUT ${name}`, res);
        }
      } else {
        const res = await broker(event('GET', `/v1/secret/data/${name}`));
        bump(`get.${res.statusCode}`);
        if (res.statusCode === 200) {
          acknowledged.add(res.headers['x-request-id']!);
          const value = (JSON.parse(res.body) as { value?: string }).value;
          if (value !== entry.acked && !entry.maybe.has(value ?? '')) {
            fail(`GET ${name} read a value that was never written or was overwritten by an acknowledged write`);
          }
        } else if (res.statusCode === 404) {
          if (entry.acked !== undefined) fail(`GET ${name} answered 404 after an acknowledged write`);
        } else refused(`GET ${name}`, res);
      }
      if (sent % 100 === 0)
        log(`aws-faults: ${sent} requests, ${tally.attempts} HTTP attempts, ${JSON.stringify(tally.byFault)}`);
    }
    counts.requests = sent;

    // The store, read through clean clients: the last acknowledged value (or a later maybe-applied one), and no
    // write applied twice (each value is unique, so a repeat among the versions is a retried write applied again).
    for (const [name, entry] of state) {
      const res = await checker(event('GET', `/v1/secret/data/${name}`));
      if (entry.acked !== undefined) {
        const value = res.statusCode === 200 ? (JSON.parse(res.body) as { value?: string }).value : undefined;
        if (value !== entry.acked && !entry.maybe.has(value ?? '')) fail(`${name}: the acknowledged write is lost`);
      }
      const versions = await checker(event('GET', `/v1/secret/versions/${name}`));
      if (versions.statusCode === 200) {
        const list = (JSON.parse(versions.body) as { versions?: Array<{ versionId: string }> }).versions ?? [];
        const ids = list.map((v) => v.versionId);
        if (new Set(ids).size !== ids.length) fail(`${name}: a version id appears twice`);
        // Every put makes one version at most; more versions than puts sent is a write applied twice.
        if (ids.length > entry.puts)
          fail(`${name}: ${ids.length} versions from ${entry.puts} puts (a write applied twice)`);
        bump('versions', ids.length);
      }
    }
    // The relay, on faulty DynamoDB and S3, until the outbox is empty; a failed run is retried, as the schedule would.
    let relayRuns = 0;
    let relayErrors = 0;
    while (relayRuns < 500) {
      relayRuns++;
      try {
        const result = await relay({ source: 'aws.events' });
        if (result.segments === 0 && (await outboxSize(store)) === 0) break;
      } catch {
        relayErrors++;
      }
    }
    counts['relay.runs'] = relayRuns;
    counts['relay.errors'] = relayErrors;
    const left = await outboxSize(store);
    if (left !== 0) fail(`the outbox still holds ${left} records after ${relayRuns} relay runs`);

    const verified = await verifyS3AuditStream(clean.s3, bucket, PREFIX, streamId);
    if (!verified.ok) fail(`the S3 audit chain does not verify: ${JSON.stringify(verified).slice(0, 300)}`);
    const records = await shipped(clean.s3, bucket, streamId);
    counts['audit.records'] = records.length;
    const seen = new Map<string, number>();
    for (const record of records) {
      const { seq: _seq, prevHash: _prev, hash: _hash, ...rest } = record as AuditRecord & Record<string, unknown>;
      const identity = JSON.stringify(rest);
      seen.set(identity, (seen.get(identity) ?? 0) + 1);
    }
    const duplicated = [...seen.values()].filter((n) => n > 1).length;
    if (duplicated > 0) fail(`${duplicated} audit records were shipped more than once`);
    for (const requestId of acknowledged) {
      const types = records.filter((r) => r.requestId === requestId).map((r) => r.type);
      if (types.filter((t) => t === 'request').length !== 1 || types.filter((t) => t === 'response').length !== 1) {
        fail(
          `acknowledged request ${requestId} has audit records [${types.join(', ')}], not one request and one response`,
        );
      }
    }
    counts['audit.acknowledged-requests'] = acknowledged.size;

    counts['sdk.calls'] = tally.attemptsPerCall.size;
    const limits: Record<string, number> = {
      ddb: await faulty.dynamodb.config.maxAttempts(),
      relay: await faulty.relayDynamodb.config.maxAttempts(),
      kms: await faulty.kms.config.maxAttempts(),
      s3: await faulty.s3.config.maxAttempts(),
    };
    for (const [prefix, limit] of Object.entries(limits)) {
      const mine = [...tally.attemptsPerCall].filter(([id]) => id.startsWith(`${prefix}-`)).map(([, n]) => n);
      const most = Math.max(0, ...mine);
      counts[`sdk.${prefix}.max-attempts-per-call`] = most;
      counts[`sdk.${prefix}.max-attempts-allowed`] = limit;
      if (most > limit) fail(`an SDK call of ${prefix} made ${most} HTTP attempts (its client allows ${limit})`);
    }
    counts['ddb.idempotent-replays'] = tally.idempotentReplays;
    counts['http.attempts'] = tally.attempts;
    for (const [fault, n] of Object.entries(tally.byFault)) counts[`fault.${fault}`] = n;
  } finally {
    await clean.dynamodb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => {});
    for (const client of [...Object.values(clean), ...Object.values(faulty)]) client.destroy();
  }
  return { counts, failures };
}

async function outboxSize(store: DynamoDbStore): Promise<number> {
  let size = 0;
  for (let shard = 0; shard < 4; shard++)
    size += (await store.query(outboxPartition(shard), { limit: 1000 })).items.length;
  return size;
}

async function shipped(s3: S3Client, bucket: string, streamId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  let token: string | undefined;
  do {
    const listing = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${PREFIX}${streamId}/`, ContinuationToken: token }),
    );
    for (const { Key } of listing.Contents ?? []) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      const text = (await object.Body?.transformToString('utf8')) ?? '';
      for (const line of text.split('\n').filter(Boolean)) records.push(JSON.parse(line) as AuditRecord);
    }
    token = listing.NextContinuationToken;
  } while (token !== undefined);
  return records;
}
