import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { dependencyUnavailable, isUnavailableAwsError } from '../../../core/aws-errors.ts';
import { InternalError } from '../../../core/errors.ts';
import type {
  BucketDecision,
  BucketLimit,
  FailureRule,
  RateLimitCounters,
} from '../../../core/ports/rate-limit-counters.ts';
import { EPSILON_MS, emissionMs, takeToken } from '../../../core/quota/token-bucket.ts';

/** Partition-key prefixes of the counters in the items table (each key its own partition, so none runs hot). */
export const RATE_LIMIT_COUNTER_PREFIXES = { bucket: 'rate-limit#', failures: 'login-lockout#' } as const;

/** Options of {@link DynamoDbRateLimitCounters}. */
export interface DynamoDbRateLimitCountersOptions {
  /** Injected, so tests point it at an emulator. The caller owns it. */
  readonly client: DynamoDBClient;
  /** The items table (`pk`, `sk`, TTL attribute `expiresAt` in epoch seconds): the counters expire on their own. */
  readonly tableName: string;
}

/** A decision lost to a concurrent writer is taken again from the new state; more losses than this are a fault. */
const MAX_ATTEMPTS = 16;

/**
 * The counters on AWS, shared by every broker instance: one item per bucket or lockout key in the items table, each
 * changed only by conditional `UpdateItem`s, so two Lambda instances never both spend the last token.
 *
 * A bucket is one number, `tat` (see `core/quota/token-bucket.ts`). The common case, a bucket in use with tokens
 * left, is a single write: `SET tat = tat + emission IF now <= tat <= now + capacity - emission`, which DynamoDB
 * evaluates atomically on the current item. Only when that condition fails (an idle bucket, or an empty one) does it
 * read the item, then decide and write conditionally on what it read. Items carry a TTL when they stop mattering; a
 * stale item DynamoDB has not deleted yet decides the same as none.
 *
 * IAM: `dynamodb:GetItem`, `dynamodb:UpdateItem`, `dynamodb:DeleteItem` on the table (the store needs them already).
 *
 * @example
 * const counters = new DynamoDbRateLimitCounters({ client: new DynamoDBClient({}), tableName: 'coffer-items' });
 */
export class DynamoDbRateLimitCounters implements RateLimitCounters {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;

  constructor(options: DynamoDbRateLimitCountersOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
  }

  async take(key: string, limit: BucketLimit, now: number): Promise<BucketDecision> {
    const itemKey = this.key(RATE_LIMIT_COUNTER_PREFIXES.bucket, key, 'bucket');
    const emission = emissionMs(limit);
    const capacity = limit.burst * emission;
    // Long enough to outlive every state that still decides something (a block included).
    const expires = ttlSeconds(now + capacity + (limit.blockMs ?? 0));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (
        await this.update(itemKey, {
          UpdateExpression: 'SET #tat = #tat + :e, #exp = :exp',
          ConditionExpression: '#tat >= :now AND #tat <= :last',
          ExpressionAttributeNames: { '#tat': 'tat', '#exp': 'expiresAt' },
          ExpressionAttributeValues: {
            ':e': num(emission),
            ':exp': num(expires),
            ':now': num(now),
            ':last': num(now + capacity - emission + EPSILON_MS),
          },
        })
      ) {
        return { allowed: true };
      }
      const stored = await this.read(itemKey, 'tat');
      const step = takeToken(stored, limit, now);
      if (step.allowed && stored !== undefined && stored >= now) continue; // refilled meanwhile: the fast path again
      if (step.tat === undefined) {
        return step.allowed ? { allowed: true } : { allowed: false, retryAfterMs: step.retryAfterMs };
      }
      // An idle bucket restarts, or an empty one starts its block: only from the state just read.
      const written = await this.update(itemKey, {
        UpdateExpression: 'SET #tat = :tat, #exp = :exp',
        ConditionExpression: stored === undefined ? 'attribute_not_exists(#tat)' : '#tat = :old',
        ExpressionAttributeNames: { '#tat': 'tat', '#exp': 'expiresAt' },
        ExpressionAttributeValues: {
          ':tat': num(step.tat),
          ':exp': num(expires),
          ...(stored !== undefined && { ':old': num(stored) }),
        },
      });
      if (written) return step.allowed ? { allowed: true } : { allowed: false, retryAfterMs: step.retryAfterMs };
    }
    throw new InternalError(`rate-limit bucket kept changing under ${MAX_ATTEMPTS} attempts`);
  }

  async lockedUntil(key: string, now: number): Promise<number | undefined> {
    const until = await this.read(this.key(RATE_LIMIT_COUNTER_PREFIXES.failures, key, 'failures'), 'lockedUntil');
    return until !== undefined && until > now ? until : undefined;
  }

  async recordFailure(key: string, rule: FailureRule, now: number): Promise<number | undefined> {
    const itemKey = this.key(RATE_LIMIT_COUNTER_PREFIXES.failures, key, 'failures');
    const names = { '#count': 'count', '#reset': 'resetAt', '#exp': 'expiresAt' };
    const values = {
      ':one': num(1),
      ':now': num(now),
      ':reset': num(now + rule.counterResetMs),
      ':exp': num(ttlSeconds(now + rule.counterResetMs)),
    };
    let count: number | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && count === undefined; attempt++) {
      // A failure within the reset window of the previous one adds to the count; a later one starts it again.
      const added =
        (await this.update(
          itemKey,
          {
            UpdateExpression: 'SET #count = #count + :one, #reset = :reset, #exp = :exp',
            ConditionExpression: '#reset > :now',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
          'count',
        )) ??
        (await this.update(
          itemKey,
          {
            UpdateExpression: 'SET #count = :one, #reset = :reset, #exp = :exp',
            ConditionExpression: 'attribute_not_exists(#reset) OR #reset <= :now',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
          'count',
        ));
      count = added;
    }
    if (count === undefined) throw new InternalError(`lockout counter kept changing under ${MAX_ATTEMPTS} attempts`);
    if (count < rule.threshold) return undefined;
    const until = now + rule.lockoutMs;
    const locked = await this.update(itemKey, {
      UpdateExpression: 'SET #locked = :until, #count = :zero, #reset = :now, #exp = :exp',
      ConditionExpression: '#count >= :threshold',
      ExpressionAttributeNames: {
        '#locked': 'lockedUntil',
        '#count': 'count',
        '#reset': 'resetAt',
        '#exp': 'expiresAt',
      },
      ExpressionAttributeValues: {
        ':until': num(until),
        ':zero': num(0),
        ':now': num(now),
        ':exp': num(ttlSeconds(until)),
        ':threshold': num(rule.threshold),
      },
    });
    // Another failure locked it first: its lock stands.
    return locked ? until : this.lockedUntil(key, now);
  }

  async clearFailures(key: string): Promise<void> {
    await this.client
      .send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: this.key(RATE_LIMIT_COUNTER_PREFIXES.failures, key, 'failures'),
        }),
      )
      .catch(unavailable('DeleteItem'));
  }

  private key(prefix: string, key: string, sk: string): Record<string, AttributeValue> {
    return { pk: { S: `${prefix}${key}` }, sk: { S: sk } };
  }

  private async read(key: Record<string, AttributeValue>, attribute: string): Promise<number | undefined> {
    const { Item } = await this.client
      .send(new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))
      .catch(unavailable('GetItem'));
    const value = Item?.[attribute]?.N;
    return value === undefined ? undefined : Number(value);
  }

  /** A conditional update: `false` (or `undefined` with `returning`) when its condition failed. */
  private async update(
    key: Record<string, AttributeValue>,
    expression: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
  ): Promise<boolean>;
  private async update(
    key: Record<string, AttributeValue>,
    expression: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
    returning: string,
  ): Promise<number | undefined>;
  private async update(
    key: Record<string, AttributeValue>,
    expression: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
    returning?: string,
  ): Promise<boolean | number | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key,
          ...expression,
          ...(returning !== undefined && { ReturnValues: 'ALL_NEW' }),
        }),
      );
      if (returning === undefined) return true;
      return Number(Attributes?.[returning]?.N);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return returning === undefined ? false : undefined;
      return unavailable('UpdateItem')(err);
    }
  }
}

/**
 * Rethrows a counter call's failure; one that is throttling or a DynamoDB fault past the SDK's retries as the core's
 * `DependencyUnavailableError`: the request the quota guards is refused with 503 and `Retry-After`, not a 500.
 */
function unavailable(operation: string): (err: unknown) => never {
  return (err) => {
    throw isUnavailableAwsError(err) ? dependencyUnavailable('DynamoDB', operation, err) : err;
  };
}

function num(value: number): AttributeValue {
  return { N: String(value) };
}

/** DynamoDB TTL is whole epoch seconds; rounded up, so an item never goes before it stops mattering. */
function ttlSeconds(epochMs: number): number {
  return Math.ceil(epochMs / 1000) + 1;
}
