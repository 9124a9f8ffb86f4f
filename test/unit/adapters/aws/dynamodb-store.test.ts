import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  QueryCommand,
  ResourceNotFoundException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoDbStore,
  type DynamoDbStoreOptions,
  failedConditionIndex,
} from '../../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { DependencyUnavailableError, InternalError } from '../../../../lambdas/core/errors.ts';
import { ConditionFailedError, type WriteOp } from '../../../../lambdas/core/ports/store.ts';

const TABLE = 'coffer-items';
const SECRET = 'sealed-ciphertext-that-must-not-leak';
const $metadata = {};

const item = (sk: string, rev = 1) => ({ pk: { S: 'p' }, sk: { S: sk }, rev: { N: String(rev) }, data: { S: '{}' } });

const canceled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata,
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('Class: DynamoDbStore', () => {
  const dynamo = mockClient(DynamoDBClient);
  let client: DynamoDBClient;

  const newStore = (options: Partial<DynamoDbStoreOptions> = {}) =>
    new DynamoDbStore({ client, tableName: TABLE, retryBaseDelayMs: 0, ...options });

  beforeEach(() => {
    dynamo.reset();
    client = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });

  afterEach(() => {
    client.destroy();
  });

  describe('reads', () => {
    it('gets an item with a strongly consistent GetItem by default', async () => {
      dynamo.on(GetItemCommand).resolves({ Item: { ...item('k', 3), data: { S: '{"v":1}' } } });

      const result = await newStore().get('p', 'k');

      expect(result).toEqual({ pk: 'p', sk: 'k', rev: 3, data: { v: 1 } });
      expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input).toEqual({
        TableName: TABLE,
        Key: { pk: { S: 'p' }, sk: { S: 'k' } },
        ConsistentRead: true,
      });
    });

    it('reads eventually consistently when consistentReads is false', async () => {
      dynamo.on(GetItemCommand).resolves({});
      dynamo.on(QueryCommand).resolves({ Items: [] });
      const store = newStore({ consistentReads: false });

      expect(await store.get('p', 'k')).toBeUndefined();
      await store.query('p');

      expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input.ConsistentRead).toBe(false);
      expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input.ConsistentRead).toBe(false);
    });

    it('queries a prefix with begins_with, one item beyond the page, from startAfter, consistently', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [item('a/2'), item('a/3'), item('a/4')] });

      const page = await newStore().query('p', { prefix: 'a/', startAfter: 'a/1', limit: 2 });

      expect(page).toEqual({
        items: [expect.objectContaining({ sk: 'a/2' }), expect.objectContaining({ sk: 'a/3' })],
        lastKey: 'a/3',
      });
      expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input).toEqual({
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': { S: 'p' }, ':prefix': { S: 'a/' } },
        ExclusiveStartKey: { pk: { S: 'p' }, sk: { S: 'a/1' } },
        Limit: 3,
        ConsistentRead: true,
      });
    });

    it('follows LastEvaluatedKey until the page and its extra item are in, and omits lastKey when none follows', async () => {
      const lastEvaluated = { pk: { S: 'p' }, sk: { S: 'b' } };
      dynamo
        .on(QueryCommand)
        .resolvesOnce({ Items: [item('a'), item('b')], LastEvaluatedKey: lastEvaluated })
        .resolvesOnce({ Items: [], LastEvaluatedKey: lastEvaluated })
        .resolvesOnce({ Items: [] });

      const page = await newStore().query('p', { limit: 2 });

      expect(page.items.map((i) => i.sk)).toEqual(['a', 'b']);
      expect(page.lastKey).toBeUndefined();
      const calls = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
      expect(calls.map((input) => [input.Limit, input.ExclusiveStartKey])).toEqual([
        [3, undefined],
        [1, lastEvaluated],
        [1, lastEvaluated],
      ]);
    });

    it('wraps a read throttled past its retries in a DependencyUnavailableError naming only the cause', async () => {
      const cause = new ThrottlingException({ message: 'Rate exceeded', $metadata });
      dynamo.on(GetItemCommand).rejects(cause);

      const error = await rejection(newStore().get('p', SECRET));

      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect(error).toMatchObject({
        message:
          'DynamoDB GetItem is unavailable (ThrottlingException) after retries; the request was not completed: retry later',
        cause,
      });
    });

    it('wraps a read refused for good in an InternalError naming only the cause', async () => {
      const cause = new ResourceNotFoundException({ message: `no table ${SECRET}`, $metadata });
      dynamo.on(GetItemCommand).rejects(cause);

      const error = await rejection(newStore().get('p', SECRET));

      expect(error).toBeInstanceOf(InternalError);
      expect(error).toMatchObject({ message: 'DynamoDB GetItem failed (ResourceNotFoundException)', cause });
    });

    it('refuses a malformed item without quoting it', async () => {
      dynamo.on(GetItemCommand).resolves({ Item: { ...item('k'), data: { S: `{${SECRET}` } } });

      const error = await rejection(newStore().get('p', 'k'));

      expect(error).toBeInstanceOf(InternalError);
      expect(String((error as Error).message)).not.toContain(SECRET);
      expect((error as Error).cause).toBeUndefined();
    });
  });

  describe('writes', () => {
    it('puts a lone item with one conditional UpdateItem that increments rev atomically', async () => {
      dynamo.on(UpdateItemCommand).resolves({});

      await newStore().transact([
        { type: 'put', pk: 'p', sk: 'k', data: { v: 1 }, condition: { kind: 'rev', rev: 7 }, expiresAt: 1_500 },
      ]);

      expect(dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input).toEqual({
        TableName: TABLE,
        Key: { pk: { S: 'p' }, sk: { S: 'k' } },
        UpdateExpression: 'SET #data = :data, #rev = if_not_exists(#rev, :zero) + :one, #exp = :exp, #expMs = :expMs',
        ConditionExpression: '#rev = :expectedRev',
        ExpressionAttributeNames: { '#data': 'data', '#rev': 'rev', '#exp': 'expiresAt', '#expMs': 'expiresAtMs' },
        ExpressionAttributeValues: {
          ':expectedRev': { N: '7' },
          ':data': { S: '{"v":1}' },
          ':zero': { N: '0' },
          ':one': { N: '1' },
          ':exp': { N: '2' },
          ':expMs': { N: '1500' },
        },
      });
    });

    it('removes the expiry attributes on a put without expiresAt, and sends no condition when none is given', async () => {
      dynamo.on(UpdateItemCommand).resolves({});

      await newStore().transact([{ type: 'put', pk: 'p', sk: 'k', data: {} }]);

      const input = dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input;
      expect(input.UpdateExpression).toBe(
        'SET #data = :data, #rev = if_not_exists(#rev, :zero) + :one REMOVE #exp, #expMs',
      );
      expect(input.ConditionExpression).toBeUndefined();
    });

    it('deletes a lone item with one DeleteItem, sending no empty expression maps', async () => {
      dynamo.on(DeleteItemCommand).resolves({});

      await newStore().transact([{ type: 'delete', pk: 'p', sk: 'k' }]);

      expect(dynamo.commandCalls(DeleteItemCommand)[0]!.args[0].input).toEqual({
        TableName: TABLE,
        Key: { pk: { S: 'p' }, sk: { S: 'k' } },
      });
    });

    it('sends several operations as one TransactWriteItems, in order, with each condition expression', async () => {
      dynamo.on(TransactWriteItemsCommand).resolves({});

      await newStore().transact([
        { type: 'put', pk: 'p', sk: 'new', data: {}, condition: { kind: 'absent' } },
        { type: 'delete', pk: 'p', sk: 'old', condition: { kind: 'exists' } },
        { type: 'check', pk: 'q', sk: 'guard', condition: { kind: 'rev', rev: 2 } },
      ]);

      const input = dynamo.commandCalls(TransactWriteItemsCommand)[0]!.args[0].input;
      expect(input.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
      expect(input.TransactItems).toEqual([
        {
          Update: expect.objectContaining({
            TableName: TABLE,
            Key: { pk: { S: 'p' }, sk: { S: 'new' } },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: expect.objectContaining({ '#pk': 'pk' }),
          }),
        },
        {
          Delete: {
            TableName: TABLE,
            Key: { pk: { S: 'p' }, sk: { S: 'old' } },
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          },
        },
        {
          ConditionCheck: {
            TableName: TABLE,
            Key: { pk: { S: 'q' }, sk: { S: 'guard' } },
            ConditionExpression: '#rev = :expectedRev',
            ExpressionAttributeNames: { '#rev': 'rev' },
            ExpressionAttributeValues: { ':expectedRev': { N: '2' } },
          },
        },
      ]);
    });

    it('maps a ConditionalCheckFailedException on a lone write to ConditionFailedError at index 0', async () => {
      dynamo.on(DeleteItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata }));

      const error = await rejection(
        newStore().transact([{ type: 'delete', pk: 'p', sk: 'k', condition: { kind: 'exists' } }]),
      );

      expect(error).toBeInstanceOf(ConditionFailedError);
      expect(error).toMatchObject({ index: 0, pk: 'p', sk: 'k' });
      expect(dynamo.commandCalls(DeleteItemCommand)).toHaveLength(1);
    });

    it('maps cancellation reasons to ConditionFailedError with the first failing index, pk and sk', async () => {
      dynamo
        .on(TransactWriteItemsCommand)
        .rejects(canceled('None', 'ConditionalCheckFailed', 'ConditionalCheckFailed'));
      const ops: WriteOp[] = [
        { type: 'put', pk: 'p', sk: 'a', data: {} },
        { type: 'put', pk: 'q', sk: 'b', data: {}, condition: { kind: 'absent' } },
        { type: 'check', pk: 'p', sk: 'c', condition: { kind: 'exists' } },
      ];

      const error = await rejection(newStore().transact(ops));

      expect(error).toBeInstanceOf(ConditionFailedError);
      expect(error).toMatchObject({ index: 1, pk: 'q', sk: 'b' });
      expect(dynamo.commandCalls(TransactWriteItemsCommand)).toHaveLength(1);
    });

    it.each([
      ['a transaction conflict', () => canceled('None', 'TransactionConflict')],
      ['a throttled transaction', () => canceled('ThrottlingError', 'None')],
      ['TransactionConflictException', () => new TransactionConflictException({ message: 'conflict', $metadata })],
      ['ThrottlingException', () => new ThrottlingException({ message: 'slow down', $metadata })],
      [
        'ProvisionedThroughputExceededException',
        () => new ProvisionedThroughputExceededException({ message: 'slow down', $metadata }),
      ],
    ])('retries %s with a fresh request token, then succeeds', async (_label, failure) => {
      dynamo.on(TransactWriteItemsCommand).rejectsOnce(failure()).rejectsOnce(failure()).resolves({});
      const ops: WriteOp[] = [
        { type: 'put', pk: 'p', sk: 'a', data: {} },
        { type: 'put', pk: 'p', sk: 'b', data: {} },
      ];

      await newStore().transact(ops);

      const tokens = dynamo
        .commandCalls(TransactWriteItemsCommand)
        .map((call) => call.args[0].input.ClientRequestToken);
      expect(tokens).toHaveLength(3);
      expect(new Set(tokens).size).toBe(3);
    });

    it('retries a throttled lone write too', async () => {
      dynamo
        .on(UpdateItemCommand)
        .rejectsOnce(new ThrottlingException({ message: 'slow down', $metadata }))
        .resolves({});

      await newStore().transact([{ type: 'put', pk: 'p', sk: 'k', data: {} }]);

      expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(2);
    });

    it('gives up after maxWriteAttempts with a DependencyUnavailableError carrying the cause', async () => {
      const conflict = canceled('TransactionConflict', 'None');
      dynamo.on(TransactWriteItemsCommand).rejects(conflict);

      const error = await rejection(
        newStore({ maxWriteAttempts: 3 }).transact([
          { type: 'put', pk: 'p', sk: 'a', data: {} },
          { type: 'put', pk: 'p', sk: 'b', data: {} },
        ]),
      );

      // Contention that outlasted the retries: the caller may try again later; each attempt was refused outright.
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect(error).toMatchObject({ cause: conflict });
      expect((error as Error).message).toContain('nothing was written');
      expect(dynamo.commandCalls(TransactWriteItemsCommand)).toHaveLength(3);
    });

    it('propagates any other error at once, wrapped, without the written data in its message', async () => {
      const cause = Object.assign(new Error('Item size has exceeded the maximum allowed size'), {
        name: 'ValidationException',
      });
      dynamo.on(UpdateItemCommand).rejects(cause);

      const error = await rejection(newStore().transact([{ type: 'put', pk: 'p', sk: 'k', data: { SECRET } }]));

      expect(error).toBeInstanceOf(InternalError);
      expect(error).not.toBeInstanceOf(ConditionFailedError);
      expect(error).toMatchObject({ cause });
      expect((error as Error).message).toBe('DynamoDB write failed (ValidationException)');
      expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(1);
    });

    it('validates operations before sending anything', async () => {
      await expect(newStore().transact([])).rejects.toThrow(RangeError);
      expect(dynamo.calls()).toHaveLength(0);
    });
  });

  describe('close', () => {
    it('rejects later calls without sending a request', async () => {
      const store = newStore();
      await store.close();
      await store.close();

      await expect(store.get('p', 'k')).rejects.toThrow('DynamoDbStore is closed');
      await expect(store.transact([{ type: 'delete', pk: 'p', sk: 'k' }])).rejects.toThrow('DynamoDbStore is closed');
      expect(dynamo.calls()).toHaveLength(0);
    });
  });
});

describe('Function: failedConditionIndex', () => {
  it('ignores reasons that are not condition failures, and indexes beyond the operations', () => {
    expect(failedConditionIndex(canceled('None', 'TransactionConflict'), 2)).toBeUndefined();
    expect(failedConditionIndex(canceled('None', 'ConditionalCheckFailed'), 1)).toBeUndefined();
    expect(failedConditionIndex(new ConditionalCheckFailedException({ message: 'x', $metadata }), 2)).toBeUndefined();
    expect(failedConditionIndex(new Error('boom'), 1)).toBeUndefined();
  });
});
