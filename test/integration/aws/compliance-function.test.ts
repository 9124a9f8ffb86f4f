import { randomBytes, randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { IamPrincipalService } from '../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { PolicyService } from '../../../lambdas/core/policy/policy-service.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import type { ApiGatewayProxyEvent } from '../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { createAuditRelayHandler } from '../../../lambdas/entrypoints/lambda/audit-relay.ts';
import { loadComplianceHandler } from '../../../lambdas/entrypoints/lambda/compliance-metrics.ts';
import { createLambdaHandler } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { loadAwsConfig } from '../../../lambdas/entrypoints/lambda/config.ts';
import { COMPLIANCE_METRICS } from '../../../lambdas/entrypoints/lambda/deployment-names.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';

const ACCOUNT = '123456789012';
const APP = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/session-1`;
const AUDITOR = `arn:aws:sts::${ACCOUNT}:assumed-role/auditor-role/session-1`;

function event(method: string, path: string, body?: unknown, userArn = APP): ApiGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      stage: 'prod',
      path: `/prod${path}`,
      identity: { sourceIp: '10.0.0.1', userArn },
    },
  };
}

/**
 * Issue 16 on AWS: the scheduled compliance function computes the report from the deployment's table and its S3 audit
 * log (shipped there by the relay) and publishes each figure as a CloudWatch metric, against the emulator.
 */
describe('Module: the compliance function (emulator)', () => {
  const emulator = awsEmulator();
  const dynamodb = new DynamoDBClient(emulator);
  const kms = new KMSClient(emulator);
  const s3 = new S3Client({ ...emulator, forcePathStyle: true });
  const tableName = uniqueName('coffer-compliance');
  const bucket = uniqueName('coffer-compliance-audit');
  let env: Record<string, string>;

  beforeAll(async () => {
    await createItemsTable(dynamodb, tableName);
    const key = await kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    env = {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: key.KeyMetadata!.Arn!,
      COFFER_AUDIT_BUCKET: bucket,
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      AWS_REGION: emulator.region,
      COFFER_ACCOUNT_ID: ACCOUNT,
    };
    const store = new DynamoDbStore({ client: dynamodb, tableName });
    await new PolicyService({ store, clock: systemClock }).put({
      name: 'app',
      rules: [{ path: 'secrets/app/*', capabilities: ['create', 'read', 'update'] }],
    });
    await new IamPrincipalService({ store, clock: systemClock }).put(`arn:aws:iam::${ACCOUNT}:role/app-role`, ['app']);
    await new PolicyService({ store, clock: systemClock }).put({
      name: 'auditors',
      rules: [{ path: 'sys/compliance', capabilities: ['read'] }],
    });
    await new IamPrincipalService({ store, clock: systemClock }).put(`arn:aws:iam::${ACCOUNT}:role/auditor-role`, [
      'auditors',
    ]);
  });
  afterAll(async () => {
    await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  });

  it('publishes the figures of the deployment, read from its table and its S3 audit log, and the broker serves them', async () => {
    const broker = createLambdaHandler(env, { dynamodb, kms });
    const status = async (method: string, path: string, body?: unknown) =>
      (await broker(event(method, path, body))).statusCode;
    expect(await status('POST', '/v1/secrets', { name: 'app/owned', value: 'v', tags: { owner: 'team-a' } })).toBe(201);
    expect(await status('POST', '/v1/secrets', { name: 'app/orphan', value: 'v' })).toBe(201);
    expect(await status('GET', '/v1/secret/data/app/owned')).toBe(200);
    expect(await status('GET', '/v1/secret/data/other/db')).toBe(403);
    // Refused by policy (the feature check comes after it): a second refusal of the same principal.
    expect(await status('GET', '/v1/sys/compliance')).toBe(403);
    const relay = createAuditRelayHandler(env, {
      clients: { dynamodb, s3 },
      metrics: { addMetric: () => {}, publishStoredMetrics: () => {} },
    });
    await relay({ source: 'aws.events' });
    // Before the function's first run the broker has no report to give, and says so rather than make one up. (Its
    // audit records stay in the outbox: the relay ran, so the report below does not count them.)
    const early = await broker(event('GET', '/v1/sys/compliance', undefined, AUDITOR));
    expect(early.statusCode).toBe(503);
    expect(JSON.parse(early.body).error.code).toBe('dependency_unavailable');

    const published = new Map<string, number>();
    let flushes = 0;
    const logged: Record<string, unknown>[] = [];
    const run = await loadComplianceHandler(
      loadAwsConfig(env),
      { dynamodb, kms, s3 },
      {
        window: '1d',
        metrics: {
          addMetric: (name, _unit, value) => published.set(name, value),
          publishStoredMetrics: () => flushes++,
        },
        logger: { info: (_message, attributes) => logged.push(attributes) },
      },
    );
    const report = await run();

    expect(flushes).toBe(1);
    expect(published.get(COMPLIANCE_METRICS.secrets_without_owner)).toBe(1);
    expect(published.get(COMPLIANCE_METRICS.top_denied_principals)).toBe(1);
    expect(published.get('AuditGaps')).toBe(0);
    expect(published.get('AuditChainsFailed')).toBe(0);
    // 5 answers (2 creations, a read, 2 refusals).
    expect(published.get(COMPLIANCE_METRICS.unauthorised_attempt_rate)).toBe(40);
    expect(published.get(COMPLIANCE_METRICS.audit_completeness)).toBe(100);
    // No rotation configured: a figure with no value is not published.
    expect(published.has(COMPLIANCE_METRICS.rotation_compliance)).toBe(false);
    const audit = report.metrics.find((m) => m.id === 'audit_completeness');
    expect(audit?.details?.find((d) => d.kind === 'chain')).toMatchObject({ verified: true });
    // The log names figures, never the details' secret names.
    expect(JSON.stringify(logged)).not.toContain('app/orphan');

    // The broker answers the report the function stored: the same figures, and when they were computed.
    const served = await broker(event('GET', '/v1/sys/compliance', undefined, AUDITOR));
    expect(served.statusCode).toBe(200);
    expect(JSON.parse(served.body)).toEqual({
      generatedAt: new Date(report.generatedAt).toISOString(),
      window: {
        since: new Date(report.window.since).toISOString(),
        until: new Date(report.window.until).toISOString(),
      },
      metrics: JSON.parse(JSON.stringify(report.metrics)),
    });
    const since = (window: string) => ({
      ...event('GET', '/v1/sys/compliance', undefined, AUDITOR),
      queryStringParameters: { since: window },
    });
    expect((await broker(since('24h'))).statusCode).toBe(200);
    const otherWindow = await broker(since('30d'));
    expect(otherWindow.statusCode).toBe(400);
    expect(JSON.parse(otherWindow.body).error.message).toMatch(/since=1d/);
  });
});
