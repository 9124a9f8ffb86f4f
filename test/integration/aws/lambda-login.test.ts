import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import type { LoginAttempt } from '../../../lambdas/broker/broker-deps.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { DEFAULT_OUTBOX_SHARDS, outboxPartition } from '../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { TokenService } from '../../../lambdas/core/auth/token/token-service.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import type { ApiGatewayProxyEvent, ApiGatewayProxyResult } from '../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { createLambdaHandler } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { apiGatewayEvent } from '../../support/api-gateway-event.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';
import {
  githubClaims,
  makeKey,
  startIssuer,
  type TestIssuer,
  type TestKey,
} from '../../unit/core/auth/jwt/jwt-test-issuer.ts';

/**
 * Issue 12 on AWS: the broker Lambda, on DynamoDB and KMS (the emulator), serves AppRole and JWT logins to callers
 * without an IAM identity (API Gateway leaves `POST /v1/auth/{mount}/login` open), fetching the JWT issuer's keys
 * through the egress guard; every attempt is audited (through the outbox) with method, mount and role, and counted.
 */

const ACCOUNT = '123456789012';
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/CofferAdmin`;
const AUDIENCE = 'https://coffer.example.com';

type Handler = (event: ApiGatewayProxyEvent) => Promise<ApiGatewayProxyResult>;

function event(method: string, path: string, body: unknown, userArn: string | null): ApiGatewayProxyEvent {
  return apiGatewayEvent(method, path, body, { userArn, sourceIp: '203.0.113.9' });
}

describe('Module: lambda handler logins (emulator)', () => {
  const emulator = awsEmulator();
  const dynamodb = new DynamoDBClient(emulator);
  const kms = new KMSClient(emulator);
  const tableName = uniqueName('coffer-login');
  const attempts: LoginAttempt[] = [];
  let handler: Handler;
  let env: Record<string, string>;
  let store: DynamoDbStore;
  let key: TestKey;
  let issuer: TestIssuer;
  let roleId: string;
  let secretId: string;

  async function call(method: string, path: string, body?: unknown, userArn: string | null = null) {
    const result = await handler(event(method, path, body, userArn));
    return {
      status: result.statusCode,
      body: result.body === '' ? undefined : JSON.parse(result.body),
      requestId: result.headers['x-request-id']!,
    };
  }
  const admin = (method: string, path: string, body?: unknown) => call(method, path, body, ADMIN);

  /** The response record of a request, read from the audit outbox (before the relay ships it to S3). */
  async function responseRecord(requestId: string): Promise<AuditRecord | undefined> {
    for (let shard = 0; shard < DEFAULT_OUTBOX_SHARDS; shard++) {
      const page = await store.query<{ records: AuditRecord[] }>(outboxPartition(shard));
      for (const item of page.items) {
        const found = item.data.records.find((r) => r.requestId === requestId && r.type === 'response');
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  beforeAll(async () => {
    key = await makeKey('ES256');
    issuer = await startIssuer([key.jwk]);
    await createItemsTable(dynamodb, tableName);
    const kmsKey = await kms.send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Description: 'coffer login' }),
    );
    env = {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: kmsKey.KeyMetadata!.Arn!,
      COFFER_AUDIT_BUCKET: uniqueName('coffer-login-audit'),
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      COFFER_BOOTSTRAP_ADMIN_ARNS: ADMIN,
      COFFER_EGRESS_ALLOW: `127.0.0.1:${issuer.port}`,
      AWS_REGION: emulator.region,
      COFFER_ACCOUNT_ID: ACCOUNT,
    };
    handler = createLambdaHandler(env, { dynamodb, kms }, { onLogin: (attempt) => attempts.push(attempt) });
    store = new DynamoDbStore({ client: dynamodb, tableName });

    expect(
      (await admin('PUT', '/v1/sys/policies/app-read', { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] }))
        .status,
    ).toBe(200);
    expect((await admin('POST', '/v1/sys/auth/approle', { type: 'approle' })).status).toBe(201);
    expect((await admin('PUT', '/v1/auth/approle/role/web', { token_policies: ['app-read'] })).status).toBe(200);
    roleId = (await admin('GET', '/v1/auth/approle/role/web/role-id')).body.role_id;
    secretId = (await admin('POST', '/v1/auth/approle/role/web/secret-id', {})).body.secret_id;
    const jwtMount = await admin('POST', '/v1/sys/auth/github', {
      type: 'jwt',
      config: { jwks_url: `${issuer.url}/jwks.json`, bound_issuer: githubClaims(0).iss },
    });
    expect(jwtMount.status).toBe(201);
    const role = await admin('PUT', '/v1/auth/github/role/deploy', {
      bound_audiences: [AUDIENCE],
      bound_claims: { repository: 'octo-org/*' },
      bound_claims_type: 'glob',
      token_policies: ['app-read'],
    });
    expect(role.status).toBe(200);
    attempts.length = 0;
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    await issuer?.close();
    await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  });

  it('logs in with AppRole without an IAM identity, for a stored token with the role policies', async () => {
    const login = await call('POST', '/v1/auth/approle/login', { role_id: roleId, secret_id: secretId });
    expect(login.status).toBe(200);
    expect(login.body.auth).toMatchObject({ policies: ['app-read'], mount_type: 'approle', role_name: 'web' });
    const record = await new TokenService({ store, clock: systemClock }).authenticate(login.body.auth.client_token);
    expect(record.policies).toEqual(['app-read']);
    expect(await responseRecord(login.requestId)).toMatchObject({
      outcome: 'ok',
      login: { method: 'approle', mount: 'approle', role: 'web', alias: expect.stringMatching(/^hmac-sha256:/) },
    });
    expect(attempts.at(-1)).toEqual({ method: 'approle', mount: 'approle', succeeded: true });
  });

  it('logs in with a JWT whose keys come from the issuer JWKS through the egress guard', async () => {
    const jwt = await key.sign(githubClaims(Date.now()));
    const login = await call('POST', '/v1/auth/github/login', { role: 'deploy', jwt });
    expect(login.status).toBe(200);
    expect(login.body.auth).toMatchObject({ policies: ['app-read'], mount_type: 'jwt', role_name: 'deploy' });
    expect(issuer.hits.get('/jwks.json')).toBeGreaterThanOrEqual(1);
    const audited = await responseRecord(login.requestId);
    expect(audited?.login).toMatchObject({ method: 'jwt', mount: 'github', role: 'deploy' });
    // The token and its subject appear only as HMACs.
    expect(JSON.stringify(audited)).not.toContain(jwt);
    expect(JSON.stringify(audited)).not.toContain('repo:octo-org/api');
    expect(attempts.at(-1)).toEqual({ method: 'jwt', mount: 'github', succeeded: true });
  });

  it('refuses a JWT for another audience and a wrong secret id with 403, audited and counted as failures', async () => {
    const wrongAudience = await call('POST', '/v1/auth/github/login', {
      role: 'deploy',
      jwt: await key.sign(githubClaims(Date.now(), { aud: 'https://elsewhere.example.com' })),
    });
    expect(wrongAudience.status).toBe(403);
    expect(wrongAudience.body.error.message).toMatch(/audience not allowed/);
    expect(await responseRecord(wrongAudience.requestId)).toMatchObject({
      outcome: 'denied',
      login: { method: 'jwt', mount: 'github', role: 'deploy' },
    });
    const wrongSecret = await call('POST', '/v1/auth/approle/login', { role_id: roleId, secret_id: 'not-it' });
    expect(wrongSecret.status).toBe(403);
    expect((await responseRecord(wrongSecret.requestId))?.login).toMatchObject({ method: 'approle', role: 'web' });
    expect(attempts.slice(-2)).toEqual([
      { method: 'jwt', mount: 'github', succeeded: false },
      { method: 'approle', mount: 'approle', succeeded: false },
    ]);
  });

  it('serves a login token nothing else: without an IAM identity every other route answers 401', async () => {
    const login = await call('POST', '/v1/auth/approle/login', { role_id: roleId, secret_id: secretId });
    const token = login.body.auth.client_token as string;
    const result = await handler({
      ...event('GET', '/v1/auth/token/lookup-self', undefined, null),
      headers: { 'X-Coffer-Token': token },
    });
    expect(result.statusCode).toBe(401);
  });

  it('publishes LoginFailed from the deployed entry point (handler.ts), by method and mount only', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', emulator.endpoint);
    vi.stubEnv('AWS_ACCESS_KEY_ID', emulator.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', emulator.credentials.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    // A fresh module graph for the entry point, which reads the stubbed environment when it loads. Reset here, not
    // after every test: the handler of `beforeAll` loads its login checks at first use (`import()`), and under a reset
    // registry they would come from another module graph, whose error classes its own `instanceof` checks miss.
    vi.resetModules();
    const module = await import('../../../lambdas/entrypoints/lambda/handler.ts');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const result = await module.handler(
      event('POST', '/v1/auth/approle/login', { role_id: roleId, secret_id: 'not-it' }, null),
    );
    const emitted = write.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes('LoginFailed'));
    write.mockRestore();
    expect(result.statusCode).toBe(403);
    expect(emitted).toHaveLength(1);
    expect(JSON.parse(emitted[0]!)).toMatchObject({ LoginFailed: 1, method: 'approle', mount: 'approle' });
    expect(emitted[0]).not.toContain(roleId);
  });
});
