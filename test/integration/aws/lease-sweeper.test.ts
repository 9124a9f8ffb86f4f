import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { KmsKeyProvider } from '../../../lambdas/adapters/aws/kms-key-provider/kms-key-provider.ts';
import { SecretService } from '../../../lambdas/core/secrets/secret-service.ts';
import { composeDynamicSecrets } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { createLeaseSweeperHandler } from '../../../lambdas/entrypoints/lambda/lease-sweeper.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';

const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/*' }],
});

async function setup() {
  const emulator = awsEmulator();
  const clients = {
    dynamodb: new DynamoDBClient(emulator),
    kms: new KMSClient(emulator),
    sts: new STSClient(emulator),
  };
  const tableName = uniqueName('coffer-sweeper');
  await createItemsTable(clients.dynamodb, tableName);
  const key = await clients.kms.send(new CreateKeyCommand({ Description: 'coffer sweeper test envelope key' }));
  const envelopeKeyArn = key.KeyMetadata!.Arn!;
  let now = Date.now();
  const clock = { now: () => now };
  const config = { region: emulator.region, endpoint: emulator.endpoint, egressAllow: '' };
  // The broker's side: the same table, engines and clients the AWS composition root builds.
  const store = new DynamoDbStore({ client: clients.dynamodb, tableName });
  const keyProvider = new KmsKeyProvider({ client: clients.kms, keyId: envelopeKeyArn });
  const secrets = new SecretService({ store, keyProvider, clock, region: emulator.region, account: '123456789012' });
  const broker = composeDynamicSecrets({ store, secrets, clients, config, clock, keyProvider });
  const handler = createLeaseSweeperHandler(
    {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: envelopeKeyArn,
      AWS_REGION: emulator.region,
      AWS_ENDPOINT_URL: emulator.endpoint,
    },
    { clients, clock, logger: { info: () => undefined, error: () => undefined } },
  );
  return { broker, handler, advance: (ms: number) => (now += ms) };
}

describe('Lease sweeper Lambda (DynamoDB and STS on the emulator)', () => {
  it('revokes an expired aws lease in one invocation, after which list no longer shows it', async () => {
    const { broker, handler, advance } = await setup();
    await broker.aws.putRole('reports', {
      role_arn: 'arn:aws:iam::123456789012:role/reports-reader',
      policy_document: POLICY,
      default_ttl: '15m',
      max_ttl: '1h',
    });
    const { lease } = await broker.leases.issue({ kind: 'aws', role: 'reports', principalId: 'alice' });
    const { lease: kept } = await broker.leases.issue({
      kind: 'aws',
      role: 'reports',
      principalId: 'bob',
      ttlSeconds: 3600,
    });

    // Not due yet: nothing is revoked.
    expect(await handler({ source: 'aws.events' })).toMatchObject({ revoked: 0, failed: 0 });
    expect((await broker.leases.list({ prefix: 'aws/' })).leases.map((l) => l.leaseId).sort()).toEqual(
      [lease.leaseId, kept.leaseId].sort(),
    );

    advance(15 * 60 * 1000 + 1000);
    expect(await handler({ source: 'aws.events' })).toMatchObject({ revoked: 1, failed: 0 });
    const left = (await broker.leases.list({ prefix: 'aws/' })).leases.map((l) => l.leaseId);
    expect(left).toEqual([kept.leaseId]);
    expect((await broker.leases.list({ failed: true })).leases).toEqual([]);
  });
});
