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
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { S3AuditSegments, verifyS3AuditStream } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { outboxPartition } from '../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { IamPrincipalService } from '../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { PolicyService } from '../../../lambdas/core/policy/policy-service.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import { type AuditRelayEvent, createAuditRelayHandler } from '../../../lambdas/entrypoints/lambda/audit-relay.ts';
import { createLambdaHandler } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { LAG_METRIC, METRICS_NAMESPACE } from '../../../lambdas/entrypoints/lambda/deployment-names.ts';
import { apiGatewayEvent } from '../../support/api-gateway-event.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';

const ACCOUNT = '123456789012';
const APP_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/session-1`;
const PREFIX = 'audit/';
const SCHEDULE: AuditRelayEvent = { source: 'aws.events' };
const STREAM_WAKE_UP: AuditRelayEvent = { Records: [{ eventName: 'INSERT' }] };

function event(method: string, path: string, body?: unknown, userArn: string | null = APP_SESSION) {
  return apiGatewayEvent(method, path, body, { userArn });
}

describe('Module: audit outbox and relay (emulator)', () => {
  const emulator = awsEmulator();
  const dynamodb = new DynamoDBClient(emulator);
  const kms = new KMSClient(emulator);
  const s3 = new S3Client({ ...emulator, forcePathStyle: true });
  const bucket = uniqueName('coffer-outbox-audit');
  const tables: string[] = [];
  let keyArn: string;

  /** A fresh table with the app policy and IAM mapping, a broker handler and its environment. */
  async function deployment() {
    const tableName = uniqueName('coffer-outbox');
    tables.push(tableName);
    await createItemsTable(dynamodb, tableName);
    const store = new DynamoDbStore({ client: dynamodb, tableName });
    await new PolicyService({ store, clock: systemClock }).put({
      name: 'app',
      rules: [{ path: 'secrets/app/*', capabilities: ['create', 'read', 'update'] }],
    });
    await new IamPrincipalService({ store, clock: systemClock }).put(`arn:aws:iam::${ACCOUNT}:role/app-role`, ['app']);
    const env = {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: keyArn,
      COFFER_AUDIT_BUCKET: bucket,
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      COFFER_AUDIT_STREAM: uniqueName('outbox'),
      AWS_REGION: emulator.region,
      COFFER_ACCOUNT_ID: ACCOUNT,
    };
    const broker = createLambdaHandler(env, { dynamodb, kms });
    const requestIds: string[] = [];
    const call = async (method: string, path: string, body?: unknown, userArn?: string | null) => {
      const result = await broker(event(method, path, body, userArn));
      requestIds.push(result.headers['x-request-id']!);
      return result.statusCode;
    };
    const relay = (overrides: Record<string, string> = {}) =>
      createAuditRelayHandler({ ...env, ...overrides }, { clients: { dynamodb, s3 }, logger: { error: () => {} } });
    return { env, store, call, relay, requestIds, streamId: env.COFFER_AUDIT_STREAM };
  }

  async function outboxSize(store: DynamoDbStore): Promise<number> {
    let size = 0;
    for (let shard = 0; shard < 4; shard++)
      size += (await store.query(outboxPartition(shard), { limit: 1000 })).items.length;
    return size;
  }

  async function shippedRecords(streamId: string): Promise<AuditRecord[]> {
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${PREFIX}${streamId}/` }));
    const records: AuditRecord[] = [];
    for (const { Key } of listing.Contents ?? []) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      const text = (await object.Body?.transformToString('utf8')) ?? '';
      for (const line of text.split('\n').filter(Boolean)) records.push(JSON.parse(line) as AuditRecord);
    }
    return records;
  }

  beforeAll(async () => {
    const key = await kms.send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Description: 'coffer outbox' }),
    );
    keyArn = key.KeyMetadata!.Arn!;
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
        },
      }),
    );
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    for (const tableName of tables) await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  });

  it('ships every request’s records to a verified S3 chain and empties the outbox', async () => {
    const { store, call, relay, requestIds, streamId } = await deployment();
    expect(await call('PUT', '/v1/secret/data/app/db', { value: 'hunter2' })).toBe(200);
    expect(await call('PUT', '/v1/secret/data/app/api', { value: 'key-1' })).toBe(200);
    expect(await call('GET', '/v1/secret/data/app/db')).toBe(200);
    expect(await call('GET', '/v1/secret/data/other/db')).toBe(403);
    expect(await call('GET', '/v1/secret/data/app/db', undefined, null)).toBe(401);
    // Before the relay runs, the records are in the table, not yet in S3.
    expect(await outboxSize(store)).toBeGreaterThanOrEqual(requestIds.length);
    expect(await shippedRecords(streamId)).toEqual([]);

    const stdout = vi.spyOn(process.stdout, 'write');
    const result = await relay()(SCHEDULE);
    expect(result).toMatchObject({ segments: 1, lagSeconds: 0 });

    expect(await verifyS3AuditStream(s3, bucket, PREFIX, streamId)).toMatchObject({
      ok: true,
      records: result.records,
    });
    const records = await shippedRecords(streamId);
    for (const requestId of requestIds) {
      const types = records.filter((r) => r.requestId === requestId).map((r) => r.type);
      expect(types, `records of ${requestId}`).toContain('response');
    }
    expect(JSON.stringify(records)).not.toContain('hunter2');
    expect(await outboxSize(store)).toBe(0);
    const emf = stdout.mock.calls.map(([chunk]) => String(chunk)).find((line) => line.includes(LAG_METRIC));
    expect(JSON.parse(emf!)).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE }] },
      [LAG_METRIC]: 0,
    });
  });

  it('keeps committing changes while S3 is unavailable, and ships them once when it is back', async () => {
    const { store, call, relay, requestIds, streamId } = await deployment();
    const broken = relay({ COFFER_AUDIT_BUCKET: uniqueName('coffer-missing') });
    for (let i = 0; i < 5; i++) expect(await call('PUT', `/v1/secret/data/app/s${i}`, { value: `v${i}` })).toBe(200);
    await expect(broken(SCHEDULE)).rejects.toThrow(/NoSuchBucket/);
    // From the stream the failure is not rethrown (the schedule retries); the lag shows the backlog.
    const woken = await broken(STREAM_WAKE_UP);
    expect(woken).toMatchObject({ segments: 0, records: 0 });
    expect(woken.lagSeconds).toBeGreaterThan(0);
    const backlog = await outboxSize(store);
    expect(backlog).toBeGreaterThanOrEqual(10);
    // The changes themselves committed.
    expect(await call('GET', '/v1/secret/data/app/s4')).toBe(200);

    const first = await relay()(SCHEDULE);
    const again = await relay()(SCHEDULE);
    expect(again).toMatchObject({ segments: 0, records: 0 });
    expect(await verifyS3AuditStream(s3, bucket, PREFIX, streamId)).toMatchObject({ ok: true, records: first.records });
    const records = await shippedRecords(streamId);
    for (const requestId of requestIds) {
      const types = records.filter((r) => r.requestId === requestId).map((r) => r.type);
      expect(types, `records of ${requestId}`).toEqual(['request', 'response']);
    }
    expect(await outboxSize(store)).toBe(0);
  });

  it('never overwrites a segment: a second create reports it exists, and it reads back unchanged', async () => {
    const segments = new S3AuditSegments({ client: s3, bucket, streamId: uniqueName('segments') });
    expect(await segments.read(1, 2)).toBeUndefined();
    expect(await segments.create(1, 2, 'first\nsecond\n')).toBe('created');
    expect(await segments.create(1, 2, 'other\nbody\n')).toBe('exists');
    expect(await segments.read(1, 2)).toBe('first\nsecond\n');
    const missing = new S3AuditSegments({ client: s3, bucket: uniqueName('coffer-missing') });
    await expect(missing.create(1, 1, 'x\n')).rejects.toThrow(/NoSuchBucket/);
  });
});
