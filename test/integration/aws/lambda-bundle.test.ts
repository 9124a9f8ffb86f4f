import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiGatewayProxyEvent } from '../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { BROKER_ENTRY, brokerSplitEsbuildOptions } from '../../../lib/broker-bundling.ts';
import { apiGatewayEvent } from '../../support/api-gateway-event.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';
import { makeCa } from '../../unit/core/auth/cert/cert-test-ca.ts';

/** Imports the bundle named by argv[2] and answers the events in COFFER_EVENTS in order; prints the results. */
const DRIVER = `const { handler } = await import(process.argv[2]);
const results = [];
for (const event of JSON.parse(process.env.COFFER_EVENTS)) {
  const result = await handler(event);
  results.push({ status: result.statusCode, body: result.body });
}
process.stdout.write('\\nCOFFER_RESULTS ' + JSON.stringify(results) + '\\n');
`;

const ADMIN_ROLE = 'arn:aws:iam::123456789012:role/coffer-bundle-admin';
const ADMIN = { userArn: 'arn:aws:sts::123456789012:assumed-role/coffer-bundle-admin/test' };

/**
 * Issue 15 on AWS: the broker as deployed, bundled by esbuild and split into `index.mjs` and chunks
 * (lib/broker-bundling.ts), run in a fresh Node process against the emulator. The engines it loads at first use live
 * in chunks whose evaluation order esbuild does not keep, so each is driven once through the real bundle.
 */
describe('Module: the split broker bundle (emulator)', () => {
  const emulator = awsEmulator();
  const dynamodb = new DynamoDBClient(emulator);
  const tableName = uniqueName('coffer-bundle');
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-split-bundle-'));
    await build({ ...brokerSplitEsbuildOptions(BROKER_ENTRY, path.join(dir, 'out')), logLevel: 'silent' });
    writeFileSync(path.join(dir, 'driver.mjs'), DRIVER);
    await createItemsTable(dynamodb, tableName);
    const key = await new KMSClient(emulator).send(new CreateKeyCommand({ Description: 'coffer split bundle' }));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: key.KeyMetadata!.Arn!,
      COFFER_AUDIT_BUCKET: uniqueName('coffer-bundle-audit'),
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      COFFER_BOOTSTRAP_ADMIN_ARNS: ADMIN_ROLE,
      AWS_REGION: emulator.region,
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
    };
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dynamodb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => {});
  });

  async function run(events: readonly ApiGatewayProxyEvent[]): Promise<{ status: number; body: string }[]> {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(dir, 'driver.mjs'), pathToFileURL(path.join(dir, 'out', 'index.mjs')).href],
      { env: { ...env, COFFER_EVENTS: JSON.stringify(events) }, maxBuffer: 16 * 1024 * 1024 },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('COFFER_RESULTS '));
    return JSON.parse(line!.slice('COFFER_RESULTS '.length));
  }

  it('serves a secret, the PKI engine, and a JWT login from their chunks in one cold process', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const unsigned = [{ alg: 'ES256' }, { sub: 'ci', aud: 'coffer', exp: 4_102_444_800 }]
      .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
      .join('.');
    const results = await run([
      apiGatewayEvent('PUT', '/v1/secret/data/app/db', { value: 'hunter2' }, ADMIN),
      apiGatewayEvent('GET', '/v1/secret/data/app/db', undefined, ADMIN),
      apiGatewayEvent('PUT', '/v1/pki/roles/web', { allowed_domains: ['example.com'], allow_subdomains: true }, ADMIN),
      apiGatewayEvent('GET', '/v1/pki/roles/web', undefined, ADMIN),
      apiGatewayEvent('POST', '/v1/sys/auth/ci', { type: 'jwt', config: { jwt_validation_pubkeys: [pem] } }, ADMIN),
      apiGatewayEvent('PUT', '/v1/auth/ci/role/deploy', { bound_audiences: ['coffer'], token_policies: [] }, ADMIN),
      apiGatewayEvent(
        'POST',
        '/v1/auth/ci/login',
        { role: 'deploy', jwt: `${unsigned}.${Buffer.alloc(64).toString('base64url')}` },
        { userArn: null },
      ),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 201, 200, 403]);
    expect(JSON.parse(results[1]!.body)).toMatchObject({ value: 'hunter2' });
    expect(JSON.parse(results[3]!.body)).toMatchObject({ name: 'web', allowed_domains: ['example.com'] });
    expect(JSON.parse(results[6]!.body).error.message).toBe('token signature is invalid');
  });

  it('creates an SSH CA in KMS and signs a key with sshpk from its chunk, in a cold process of its own', async () => {
    const publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIElmPHiO0G74ULwhGMdaA2ZGJEY/pja+6ocZ04gf7ZNE';
    const results = await run([
      apiGatewayEvent('POST', '/v1/ssh/config/ca', { key_type: 'ec-p256' }, ADMIN),
      apiGatewayEvent('PUT', '/v1/ssh/roles/dev', { key_type: 'ca', default_user: 'dev-alice' }, ADMIN),
      apiGatewayEvent('POST', '/v1/ssh/sign/dev', { public_key: publicKey }, ADMIN),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(results[0]!.body)).toMatchObject({ key_type: 'ec-p256', key_store: 'kms' });
    expect(JSON.parse(results[2]!.body).signed_key).toMatch(/^ssh-ed25519-cert-v01@openssh\.com /);
  });

  it('writes a certificate login role, whose checks load at first use, in a cold process of its own', async () => {
    const ca = await makeCa(Date.now());
    const ca2 = await makeCa(Date.now(), 'Other CA');
    const results = await run([
      apiGatewayEvent('POST', '/v1/sys/auth/cert', { type: 'cert' }, ADMIN),
      apiGatewayEvent('PUT', '/v1/auth/cert/role/web', { certificate: ca.pem, crls: [await ca.crl([])] }, ADMIN),
      apiGatewayEvent('PUT', '/v1/auth/cert/role/forged', { certificate: ca.pem, crls: [await ca2.crl([])] }, ADMIN),
    ]);
    expect(results.map((r) => r.status)).toEqual([201, 200, 400]);
    expect(JSON.parse(results[2]!.body).error.message).toContain('crls.0: not signed by any certificate of the role');
  });

  it("answers malformed input with zod's English messages, as the one-file bundle did", async () => {
    const results = await run([
      apiGatewayEvent('PUT', '/v1/secret/data/app/bad', { value: 5 }, ADMIN),
      apiGatewayEvent('GET', '/v1/secret/data/app/missing', undefined, ADMIN),
    ]);
    expect(results.map((r) => r.status)).toEqual([400, 404]);
    expect(JSON.parse(results[0]!.body).error.message).toContain('expected string, received number');
  });
});
