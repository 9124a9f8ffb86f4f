import { DeleteTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRateLimitCounters } from '../../../lambdas/adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts';
import { describeRateLimitCountersContract } from '../../contract/rate-limit-counters.contract.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';

/**
 * Two clients, as two Lambda instances would have. Against moto each sends one request at a time (see
 * dynamodb-store.test.ts: moto applies concurrent writes without isolation); the two still interleave their reads and
 * conditional updates freely, which is what the races exercise.
 */
const tableName = uniqueName('coffer-rate-limits');
let clients: DynamoDBClient[] = [];

beforeAll(async () => {
  const config = awsEmulator();
  clients = [0, 1].map(() => new DynamoDBClient({ ...config, requestHandler: { httpAgent: { maxSockets: 1 } } }));
  await createItemsTable(clients[0]!, tableName);
});

afterAll(async () => {
  await clients[0]?.send(new DeleteTableCommand({ TableName: tableName }));
  for (const client of clients) client.destroy();
});

describeRateLimitCountersContract('DynamoDbRateLimitCounters (emulator)', async () => ({
  first: new DynamoDbRateLimitCounters({ client: clients[0]!, tableName }),
  second: new DynamoDbRateLimitCounters({ client: clients[1]!, tableName }),
}));

describe('Class: DynamoDbRateLimitCounters', () => {
  it('keeps one number per bucket, under an HMAC key, with a TTL for when it stops mattering', async () => {
    const counters = new DynamoDbRateLimitCounters({ client: clients[0]!, tableName });
    const now = 1_800_000_000_000;
    await counters.take('hmac-abc', { rate: 10, intervalMs: 1000, burst: 10 }, now);
    const { Item } = await clients[0]!.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'rate-limit#hmac-abc' }, sk: { S: 'bucket' } },
        ConsistentRead: true,
      }),
    );
    expect(Item).toEqual({
      pk: { S: 'rate-limit#hmac-abc' },
      sk: { S: 'bucket' },
      tat: { N: String(now + 100) },
      expiresAt: { N: String(Math.ceil((now + 1000) / 1000) + 1) },
    });
  });
});
