import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { toHttpError } from '../../../../../lambdas/broker/http-errors.ts';
import { DependencyUnavailableError, InternalError } from '../../../../../lambdas/core/errors.ts';
import type { WriteOp } from '../../../../../lambdas/core/ports/store.ts';
import { OFFLINE, type Scripted, scriptedHandler } from './scripted-http.ts';

/**
 * DynamoDbStore under throttling, 5xx and timeouts through a real DynamoDBClient whose HTTP handler answers from a
 * script, so the SDK's own retry strategy runs as in production and the attempts it makes can be counted.
 */

/** A DynamoDB client whose every HTTP attempt is answered by the next entry of `script`. */
function scriptedClient(script: Scripted[]) {
  const { handler, seen } = scriptedHandler(script, '{}', 'application/x-amz-json-1.0');
  // The SDK's retry defaults (standard mode, DynamoDB's 4 attempts) are what production runs: none is overridden.
  const client = new DynamoDBClient({ ...OFFLINE, requestHandler: handler });
  const tokens = () => seen.map((s) => (JSON.parse(s.body) as { ClientRequestToken?: string }).ClientRequestToken);
  return { client, seen, tokens };
}

const dynamoError = (status: number, type: string): Scripted => ({
  status,
  contentType: 'application/x-amz-json-1.0',
  body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'injected' }),
});
const THROTTLED = dynamoError(400, 'ThrottlingException');
const PROVISIONED = dynamoError(400, 'ProvisionedThroughputExceededException');
const put = (sk: string): WriteOp => ({ type: 'put', pk: 'p', sk, data: { v: sk } });

describe('DynamoDbStore under faults, through the SDK retry strategy', () => {
  it("makes at most the client's maxAttempts (DynamoDB's default: 4) HTTP attempts for a read answering 500", async () => {
    const { client, seen } = scriptedClient([{ status: 500 }]);
    const maxAttempts = await client.config.maxAttempts();
    expect(maxAttempts).toBe(4);
    const store = new DynamoDbStore({ client, tableName: 't' });
    // A fault DynamoDB kept answering through every attempt: 503, come back later, not an internal error.
    await expect(store.get('p', 's')).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(seen).toHaveLength(maxAttempts);
  });

  it('keeps a refusal no retry changes (access denied, missing table) an internal error, after one attempt', async () => {
    for (const refusal of [dynamoError(400, 'AccessDeniedException'), dynamoError(400, 'ResourceNotFoundException')]) {
      const { client, seen } = scriptedClient([refusal]);
      const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
      const error = await store.transact([put('a')]).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(InternalError);
      expect(toHttpError(error).status).toBe(500);
      expect(seen).toHaveLength(1);
    }
  });

  it('bounds a throttled write at maxWriteAttempts × maxAttempts HTTP attempts (8 × 4), never looping', async () => {
    const { client, seen } = scriptedClient([PROVISIONED]);
    const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
    const error = await store.transact([put('a')]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toMatch(
      /DynamoDB write is unavailable \(ProvisionedThroughputExceededException\)/,
    );
    // The SDK sent it more than once, so the store cannot rule out an applied attempt, and says so.
    expect((error as Error).message).toContain('the write may or may not have been applied');
    expect(toHttpError(error)).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    expect(seen).toHaveLength(8 * 4);
  }, 60_000);

  it('keeps the transaction token after a call the SDK retried, since one of its attempts may have applied', async () => {
    const { client, seen, tokens } = scriptedClient([
      THROTTLED,
      { status: 500 },
      { error: 'ETIMEDOUT' },
      THROTTLED,
      'ok',
    ]);
    const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
    await store.transact([put('a'), put('b')]);
    expect(seen).toHaveLength(5);
    // The timed-out attempt may have reached DynamoDB: the store's next attempt repeats its token, so DynamoDB answers
    // it as the same transaction rather than applying it twice.
    expect(new Set(tokens()).size).toBe(1);
  }, 60_000);

  it('takes a new token after a transaction DynamoDB refused in one attempt (nothing of it applied)', async () => {
    const conflict: Scripted = {
      status: 400,
      contentType: 'application/x-amz-json-1.0',
      body: JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        message: 'Transaction cancelled',
        CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
      }),
    };
    const { client, seen, tokens } = scriptedClient([conflict, 'ok']);
    const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
    await store.transact([put('a'), put('b')]);
    expect(seen).toHaveLength(2);
    const [first, second] = tokens();
    expect(second).not.toBe(first);
  });
});
