import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { KmsKeyProvider } from '../../../lambdas/adapters/aws/kms-key-provider/kms-key-provider.ts';
import { createReplicatorHandler } from '../../../lambdas/entrypoints/lambda/replicator.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';
import { regionalSecretsDeps } from '../../support/regional-secrets.ts';

const text = (string: string) => ({ kind: 'string' as const, string });
const quiet = { info: () => undefined, error: () => undefined };

async function setup() {
  const emulator = awsEmulator();
  const clients = { dynamodb: new DynamoDBClient(emulator), kms: new KMSClient(emulator) };
  const tableName = uniqueName('coffer-replicator');
  await createItemsTable(clients.dynamodb, tableName);
  const key = await clients.kms.send(new CreateKeyCommand({ Description: 'coffer replicator test envelope key' }));
  const envelopeKeyArn = key.KeyMetadata!.Arn!;
  // The broker's side: the regional secrets and replication operations over the same table and key.
  const broker = regionalSecretsDeps({
    store: new DynamoDbStore({ client: clients.dynamodb, tableName }),
    keyProvider: new KmsKeyProvider({ client: clients.kms, keyId: envelopeKeyArn }),
    clock: { now: () => Date.now() },
    homeRegion: emulator.region,
    account: '123456789012',
    writeRate: 'unlimited',
  });
  const handler = createReplicatorHandler(
    {
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: envelopeKeyArn,
      COFFER_ACCOUNT_ID: '123456789012',
      AWS_REGION: emulator.region,
      AWS_ENDPOINT_URL: emulator.endpoint,
    },
    { clients, logger: quiet },
  );
  const primary = broker.regionalSecrets.in(emulator.region);
  const replica = broker.regionalSecrets.in('eu-west-1');
  const status = async (name: string) => (await primary.describe({ secretId: name })).replication?.[0]?.status;
  /** A stream batch as DynamoDB delivers it to Lambda: the changed items' keys. */
  const streamBatch = (...keys: [string, string][]) => ({
    Records: keys.map(([pk, sk]) => ({ dynamodb: { Keys: { pk: { S: pk }, sk: { S: sk } } } })),
  });
  return { broker, handler, primary, replica, status, streamBatch, region: emulator.region };
}

describe('Replicator Lambda (DynamoDB and KMS on the emulator)', () => {
  it('replicates the secrets a stream batch names, re-sealed for the replica region, and marks them InSync', async () => {
    const t = await setup();
    const name = uniqueName('app/db');
    await t.primary.create({ name, value: text('v1') });
    await t.broker.replication.addReplicas({ region: t.region, secretId: name, replicas: [{ region: 'eu-west-1' }] });
    expect(await t.status(name)).toBe('InProgress');

    // Another partition's change in the same batch is not this region's to replicate.
    const result = await t.handler(t.streamBatch(['secrets-by-creation', 'x'], ['secrets', name]));
    expect(result).toEqual({ behind: [] });
    expect(await t.status(name)).toBe('InSync');
    const read = await t.replica.get({ secretId: name });
    expect(read.value).toEqual(text('v1'));
    expect(read.arn).toMatch(/^arn:aws:secretsmanager:eu-west-1:123456789012:secret:/);
  });

  it('catches up on the schedule what no stream batch named (a write whose wake-up was lost)', async () => {
    const t = await setup();
    const name = uniqueName('app/api');
    await t.primary.create({ name, value: text('v1') });
    await t.broker.replication.addReplicas({ region: t.region, secretId: name, replicas: [{ region: 'eu-west-1' }] });
    await t.handler(t.streamBatch(['secrets', name]));
    await t.primary.put({ secretId: name, value: text('v2') });
    // The write marked the replica InProgress in its own transaction: the work is in the table, not in the stream.
    expect(await t.status(name)).toBe('InProgress');
    await t.handler({ source: 'aws.events' });
    expect(await t.status(name)).toBe('InSync');
    expect((await t.replica.get({ secretId: name })).value).toEqual(text('v2'));
  });
});
