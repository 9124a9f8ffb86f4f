import { CreateTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';

/** Client settings that can only ever reach the local emulator: fixed dummy credentials and an explicit endpoint. */
export interface EmulatorClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
}

/** The emulator started by the global setup. Throws (so the suite fails) with instructions when there is none. */
export function awsEmulator(): EmulatorClientConfig {
  const endpoint = inject('awsEndpoint') as string | undefined;
  // Only the projects listed in vitest.config.ts get an emulator; anywhere else there is no endpoint to reach, and
  // the SDK must not fall back on real AWS.
  if (endpoint === undefined)
    throw new Error('this suite needs the AWS emulator: add it to AWS_SUITES in vitest.config.ts');
  if (endpoint === '') throw new Error(inject('awsEmulatorError'));
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
}

/** A name no other test (or an earlier run against a long-lived LocalStack) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The table shape the CDK stack deploys (lib/coffer-control-plane.ts): pk/sk strings, TTL on expiresAt. */
export async function createItemsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );
}
