import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { awsEmulator, uniqueName } from '../../support/aws-emulator.ts';

describe('AWS emulator harness', () => {
  it('reaches a local wire-protocol emulator, never real AWS', async () => {
    const config = awsEmulator();
    expect(new URL(config.endpoint).hostname).toMatch(/^(127\.0\.0\.1|localhost)$|^localstack$/);
    const client = new DynamoDBClient(config);
    const name = uniqueName('harness');
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    const tables = await client.send(new ListTablesCommand({}));
    expect(tables.TableNames).toContain(name);
  });
});
