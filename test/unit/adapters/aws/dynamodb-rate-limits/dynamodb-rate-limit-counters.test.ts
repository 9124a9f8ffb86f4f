import {
  DeleteItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ThrottlingException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbRateLimitCounters } from '../../../../../lambdas/adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts';
import { toHttpError } from '../../../../../lambdas/broker/http-errors.ts';
import { DependencyUnavailableError } from '../../../../../lambdas/core/errors.ts';

/**
 * The shared quota counters when DynamoDB throttles through the SDK's retries: the request the quota guards is
 * refused with 503 and `Retry-After` (a throttled dependency), not a 500; a refusal no retry changes stays as it is.
 */
const $metadata = { attempts: 4 };
const LIMIT = { rate: 10, intervalMs: 1_000, burst: 20 };
const RULE = { threshold: 5, counterResetMs: 60_000, lockoutMs: 900_000 };

describe('Class: DynamoDbRateLimitCounters, DynamoDB unavailable', () => {
  const dynamo = mockClient(DynamoDBClient);
  let counters: DynamoDbRateLimitCounters;
  beforeEach(() => {
    dynamo.reset();
    counters = new DynamoDbRateLimitCounters({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 't' });
  });
  afterEach(() => dynamo.reset());

  it.each([
    ['take (UpdateItem)', () => counters.take('k', LIMIT, 1_000), 'UpdateItem'],
    ['lockedUntil (GetItem)', () => counters.lockedUntil('k', 1_000), 'GetItem'],
    ['recordFailure (UpdateItem)', () => counters.recordFailure('k', RULE, 1_000), 'UpdateItem'],
    ['clearFailures (DeleteItem)', () => counters.clearFailures('k'), 'DeleteItem'],
  ])('answers %s throttled past its retries with DependencyUnavailableError (503)', async (_, call, operation) => {
    const throttled = new ThrottlingException({ message: 'Rate exceeded', $metadata });
    dynamo.on(UpdateItemCommand).rejects(throttled);
    dynamo.on(GetItemCommand).rejects(throttled);
    dynamo.on(DeleteItemCommand).rejects(throttled);

    const error = await call().then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toContain(`DynamoDB ${operation} is unavailable (ThrottlingException)`);
    expect((error as Error).cause).toBe(throttled);
    expect(toHttpError(error)).toMatchObject({ status: 503, retryAfterSeconds: 1 });
  });

  it('answers a read whose partition is over its provisioned throughput the same way', async () => {
    const over = new ProvisionedThroughputExceededException({ message: 'over', $metadata });
    dynamo.on(GetItemCommand).rejects(over);
    await expect(counters.lockedUntil('k', 1_000)).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('passes an access denial through untouched: an operator must fix the role, a retry cannot', async () => {
    // DynamoDB's AccessDeniedException has no class of its own in the SDK: a service exception by name.
    const denied = new DynamoDBServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      message: 'no',
      $metadata: {},
    });
    dynamo.on(GetItemCommand).rejects(denied);
    const error = await counters.lockedUntil('k', 1_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBe(denied);
    expect(toHttpError(error).status).toBe(500);
  });
});
