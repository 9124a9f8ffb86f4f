import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { ConditionFailedError, type WriteOp } from '../../../../../lambdas/core/ports/store.ts';

/**
 * A lone conditional write whose first attempt applied but whose answer was lost: the SDK sends it again, the retry
 * fails the condition the first attempt changed, and the store must read fresh rather than report a conflict with
 * itself (aws-sdk-client-mock stands in for the whole call and its outcome).
 */
const put = (sk: string): WriteOp => ({ type: 'put', pk: 'p', sk, data: { v: sk } });

describe('DynamoDbStore: a conditional write retried after its answer was lost', () => {
  const dynamo = mockClient(DynamoDBClient);
  afterEach(() => dynamo.reset());
  const store = () => new DynamoDbStore({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 't' });
  /** The SDK's retry met the condition the first, applied attempt had already changed. */
  const failedAfter = (attempts: number) =>
    new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { attempts } });

  it('reads fresh and succeeds when the item holds exactly what this write put', async () => {
    dynamo.on(UpdateItemCommand).rejects(failedAfter(2));
    dynamo.on(GetItemCommand).resolves({
      Item: { pk: { S: 'p' }, sk: { S: 'a' }, rev: { N: '4' }, data: { S: JSON.stringify({ v: 'a' }) } },
    });
    await store().transact([{ ...put('a'), condition: { kind: 'rev', rev: 3 } }]);
    expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({ ConsistentRead: true });
  });

  it('reports the condition failure when the item holds someone else’s data', async () => {
    dynamo.on(UpdateItemCommand).rejects(failedAfter(3));
    dynamo.on(GetItemCommand).resolves({
      Item: { pk: { S: 'p' }, sk: { S: 'a' }, rev: { N: '4' }, data: { S: JSON.stringify({ v: 'other' }) } },
    });
    await expect(store().transact([{ ...put('a'), condition: { kind: 'absent' } }])).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
  });

  it('does not read when the first attempt itself failed its condition', async () => {
    dynamo.on(UpdateItemCommand).rejects(failedAfter(1));
    await expect(store().transact([{ ...put('a'), condition: { kind: 'absent' } }])).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
    expect(dynamo.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  it('succeeds a retried conditional delete when the item is gone, and fails it when the item is still there', async () => {
    dynamo.on(DeleteItemCommand).rejects(failedAfter(2));
    dynamo
      .on(GetItemCommand)
      .resolvesOnce({})
      .resolves({ Item: { pk: { S: 'p' }, sk: { S: 'a' }, rev: { N: '9' }, data: { S: '{}' } } });
    const del: WriteOp = { type: 'delete', pk: 'p', sk: 'a', condition: { kind: 'rev', rev: 2 } };
    await store().transact([del]);
    await expect(store().transact([del])).rejects.toBeInstanceOf(ConditionFailedError);
  });
});
