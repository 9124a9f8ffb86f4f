import { randomBytes, randomUUID } from 'node:crypto';
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
import { DynamoDbRateLimitCounters } from '../../../lambdas/adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { verifyS3AuditStream } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import { OUTBOX_PARTITION_PREFIX } from '../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { IamPrincipalService } from '../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { PolicyService } from '../../../lambdas/core/policy/policy-service.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import { QuotaService } from '../../../lambdas/core/quota/quota-service.ts';
import type { ApiGatewayProxyEvent, ApiGatewayProxyResult } from '../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { createAuditRelayHandler } from '../../../lambdas/entrypoints/lambda/audit-relay.ts';
import { createLambdaHandler } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { loadAwsConfig } from '../../../lambdas/entrypoints/lambda/config.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';

const ACCOUNT = '123456789012';
const APP_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/session-1`;
const AUDIT_PREFIX = 'audit/';
/** The relay's metrics, kept off the test output. */
const quietMetrics = { addMetric: () => {}, publishStoredMetrics: () => {} };

type Handler = (event: ApiGatewayProxyEvent) => Promise<ApiGatewayProxyResult>;

interface CallOptions {
  readonly userArn?: string | null;
  readonly body?: unknown;
}

function event(method: string, path: string, options: CallOptions = {}): ApiGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    headers: options.body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: options.body === undefined ? null : JSON.stringify(options.body),
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      stage: 'prod',
      path: `/prod${path}`,
      identity: { sourceIp: '10.0.0.1', userArn: options.userArn ?? null },
    },
  };
}

describe('Module: lambda handler (emulator)', () => {
  const emulator = awsEmulator();
  const dynamodb = new DynamoDBClient(emulator);
  const kms = new KMSClient(emulator);
  const s3 = new S3Client({ ...emulator, forcePathStyle: true });
  /** DynamoDB calls other than audit outbox writes (which record refusals too): the data accesses. */
  let dynamoCalls = 0;
  dynamodb.middlewareStack.add(
    (next) => async (args) => {
      if (!JSON.stringify(args.input).includes(OUTBOX_PARTITION_PREFIX)) dynamoCalls++;
      return next(args);
    },
    { step: 'initialize', name: 'countDynamoCalls' },
  );

  const tableName = uniqueName('coffer-lambda');
  const bucket = uniqueName('coffer-lambda-audit');
  let env: Record<string, string>;
  let handler: Handler;
  /** Request ids of every broker response this suite received: each must have an audit record. */
  const requestIds: string[] = [];

  async function call(method: string, path: string, options?: CallOptions, via: Handler = handler) {
    const result = await via(event(method, path, options));
    const requestId = result.headers['x-request-id'];
    expect(requestId).toBeTruthy();
    requestIds.push(requestId!);
    return { status: result.statusCode, body: result.body === '' ? undefined : JSON.parse(result.body) };
  }

  beforeAll(async () => {
    await createItemsTable(dynamodb, tableName);
    const key = await kms.send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Description: 'coffer lambda' }),
    );
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
    env = {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: key.KeyMetadata!.Arn!,
      COFFER_AUDIT_BUCKET: bucket,
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      AWS_REGION: emulator.region,
      COFFER_ACCOUNT_ID: ACCOUNT,
    };
    handler = createLambdaHandler(env, { dynamodb, kms });

    const store = new DynamoDbStore({ client: dynamodb, tableName });
    await new PolicyService({ store, clock: systemClock }).put({
      name: 'app',
      rules: [{ path: 'secrets/app/*', capabilities: ['create', 'read', 'update'] }],
    });
    await new IamPrincipalService({ store, clock: systemClock }).put(`arn:aws:iam::${ACCOUNT}:role/app-role`, ['app']);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  afterAll(async () => {
    await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  });

  it('writes then reads a secret for a mapped IAM role', async () => {
    const put = await call('PUT', '/v1/secret/data/app/db', { userArn: APP_SESSION, body: { value: 'hunter2' } });
    expect(put.status).toBe(200);
    const got = await call('GET', '/v1/secret/data/app/db', { userArn: APP_SESSION });
    expect(got.status).toBe(200);
    expect(got.body.value).toBe('hunter2');
    expect(got.body.arn).toContain(`:${emulator.region}:${ACCOUNT}:secret:app/db`);
  });

  it('refuses a path outside the policy with 403', async () => {
    const denied = await call('GET', '/v1/secret/data/other/db', { userArn: APP_SESSION });
    expect(denied.status).toBe(403);
  });

  it('refuses a request with no IAM identity and no token with 401, before any DynamoDB call', async () => {
    const before = dynamoCalls;
    const refused = await call('GET', '/v1/secret/data/app/db', { userArn: null });
    expect(refused.status).toBe(401);
    expect(dynamoCalls).toBe(before);
  });

  it('enforces a rate-limit quota across two Lambda instances, counting in DynamoDB', async () => {
    const store = new DynamoDbStore({ client: dynamodb, tableName });
    const counters = new DynamoDbRateLimitCounters({ client: dynamodb, tableName });
    await new QuotaService({ store, clock: systemClock, counters, hmac: (value) => value }).put('app-reads', {
      path: 'secrets/app/',
      rate: 3,
      interval: 3600,
      per: 'principal',
    });
    // Fresh instances: a warm one reads the quota list at most every 5 seconds.
    const instances = [createLambdaHandler(env, { dynamodb, kms }), createLambdaHandler(env, { dynamodb, kms })];
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await call('GET', '/v1/secret/data/app/db', { userArn: APP_SESSION }, instances[i % 2])).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await instances[0]!(event('GET', '/v1/secret/data/app/db', { userArn: APP_SESSION }));
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1200');
    await new QuotaService({ store, clock: systemClock, counters, hmac: (value) => value }).delete('app-reads');
  });

  it('refuses an IAM role that is not mapped with 401', async () => {
    const refused = await call('GET', '/v1/secret/data/app/db', {
      userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/stranger/session-9`,
    });
    expect(refused.status).toBe(401);
  });

  it('composes from the process environment at module load', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', emulator.endpoint);
    vi.stubEnv('AWS_ACCESS_KEY_ID', emulator.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', emulator.credentials.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    // A fresh module graph for the entry point, which reads the stubbed environment when it loads. Reset here, not
    // after every test: engines load at first use (`import()`), and under a registry reset meanwhile they would come
    // from another module graph, whose error classes the broker's `instanceof` checks miss (a 4xx turned 500).
    vi.resetModules();
    const module = await import('../../../lambdas/entrypoints/lambda/handler.ts');
    const got = await call('GET', '/v1/secret/data/app/db', { userArn: APP_SESSION }, module.handler);
    expect(got.status).toBe(200);
    expect(got.body.value).toBe('hunter2');
  });

  it('fails at module load when configuration is missing, naming the setting', async () => {
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    vi.stubEnv('COFFER_TABLE_NAME', '');
    vi.resetModules();
    await expect(import('../../../lambdas/entrypoints/lambda/handler.ts')).rejects.toThrow(
      'invalid configuration COFFER_TABLE_NAME: is required',
    );
  });

  it('fails on bad configuration with a message naming the setting', () => {
    const { COFFER_TABLE_NAME: _table, ...withoutTable } = env;
    expect(() => createLambdaHandler(withoutTable)).toThrow('invalid configuration COFFER_TABLE_NAME');
    expect(() => createLambdaHandler({ ...env, COFFER_ENVELOPE_KEY_ARN: 'alias/coffer' })).toThrow(
      'invalid configuration COFFER_ENVELOPE_KEY_ARN: must be a KMS key ARN',
    );
    const shortSalt = randomBytes(16).toString('base64');
    expect(() => createLambdaHandler({ ...env, COFFER_AUDIT_SALT: shortSalt })).toThrow(
      /^invalid configuration COFFER_AUDIT_SALT: must decode to at least 32 bytes$/,
    );
  });

  // Last: it checks the requests of every test above.
  it('leaves a verified audit response record in S3 for every broker call, once the audit relay ran', async () => {
    expect(requestIds.length).toBeGreaterThanOrEqual(5);
    // The broker writes its records to the audit outbox in the table; the relay ships them to S3.
    const relay = createAuditRelayHandler(env, { clients: { dynamodb, s3 }, metrics: quietMetrics });
    expect(await relay({ source: 'aws.events' })).toMatchObject({ lagSeconds: 0 });
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: AUDIT_PREFIX, Delimiter: '/' }));
    const streams = (listing.CommonPrefixes ?? []).map((p) => p.Prefix!.slice(AUDIT_PREFIX.length, -1));
    expect(streams.length).toBeGreaterThanOrEqual(1);
    const responses = new Map<string, { outcome?: string; status?: number }>();
    for (const streamId of streams) {
      expect(await verifyS3AuditStream(s3, bucket, AUDIT_PREFIX, streamId)).toMatchObject({ ok: true });
      const objects = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `${AUDIT_PREFIX}${streamId}/` }),
      );
      for (const { Key } of objects.Contents ?? []) {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
        const text = (await object.Body?.transformToString('utf8')) ?? '';
        for (const line of text.split('\n').filter(Boolean)) {
          const record = JSON.parse(line) as { type: string; requestId: string; outcome?: string; status?: number };
          expect(line).not.toContain('hunter2');
          if (record.type === 'response') responses.set(record.requestId, record);
        }
      }
    }
    for (const requestId of requestIds) {
      expect(responses.get(requestId), `audit response for ${requestId}`).toBeDefined();
    }
    const statuses = requestIds.map((id) => responses.get(id)?.status);
    expect(statuses).toEqual(expect.arrayContaining([200, 403, 401]));
  });
});

describe('Function: loadAwsConfig', () => {
  const KEY_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  const SALT = randomBytes(32).toString('base64');
  const valid = {
    COFFER_TABLE_NAME: 'coffer-items',
    COFFER_ENVELOPE_KEY_ARN: KEY_ARN,
    COFFER_AUDIT_BUCKET: 'coffer-audit',
    COFFER_AUDIT_SALT: SALT,
    AWS_REGION: 'eu-west-1',
  };

  it('parses a complete environment, taking the account from the key ARN by default', () => {
    const config = loadAwsConfig(valid);
    expect(config).toMatchObject({ tableName: 'coffer-items', envelopeKeyArn: KEY_ARN, account: ACCOUNT });
    expect(config.auditSalt!.equals(Buffer.from(SALT, 'base64'))).toBe(true);
    expect(config.endpoint).toBeUndefined();
    expect(loadAwsConfig({ ...valid, COFFER_ACCOUNT_ID: '210987654321' }).account).toBe('210987654321');
  });

  it('names each bad setting without echoing its value', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ COFFER_AUDIT_SALT: '' }, /^invalid configuration COFFER_AUDIT_SALT: is required$/],
      [{ COFFER_AUDIT_SALT: 'not base64!' }, /^invalid configuration COFFER_AUDIT_SALT: must be base64$/],
      [{ COFFER_ENVELOPE_KEY_ARN: 'alias/coffer' }, /^invalid configuration COFFER_ENVELOPE_KEY_ARN: must be a KMS/],
      [{ COFFER_AUDIT_BUCKET: 'Bad_Bucket' }, /^invalid configuration COFFER_AUDIT_BUCKET: must be an S3 bucket/],
      [{ AWS_REGION: '' }, /^invalid configuration AWS_REGION: is required$/],
      [{ COFFER_ACCOUNT_ID: '12' }, /^invalid configuration COFFER_ACCOUNT_ID: must be 12 digits$/],
      [{ AWS_ENDPOINT_URL: 'file:///etc' }, /^invalid configuration AWS_ENDPOINT_URL: must be an http\(s\) URL$/],
    ];
    for (const [override, message] of cases) {
      expect(() => loadAwsConfig({ ...valid, ...override })).toThrow(message);
    }
  });
});
