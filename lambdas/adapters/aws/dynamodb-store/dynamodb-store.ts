import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { dependencyUnavailable, isUnavailableAwsError } from '../../../core/aws-errors.ts';
import { InternalError } from '../../../core/errors.ts';
import {
  type Condition,
  ConditionFailedError,
  type ItemData,
  type Page,
  type QueryOptions,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../../core/ports/store.ts';
import { compareKeys, validateOps } from '../../../core/ports/store-rules.ts';
import { withRetries } from '../../../core/retry.ts';

/** Options of {@link DynamoDbStore}. */
export interface DynamoDbStoreOptions {
  /** The DynamoDB client, injected so tests can point it at an emulator or mock it. The caller owns it. */
  readonly client: DynamoDBClient;
  /** The items table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expiresAt`. */
  readonly tableName: string;
  /**
   * Strongly consistent `get` and `query`. Turning this off halves read cost but lets a read miss a write that was
   * already acknowledged, so a read-modify-write then loses its race more often (it is still never a lost update:
   * the `rev` condition is evaluated by DynamoDB on the current item).
   * @default true
   */
  readonly consistentReads?: boolean;
  /**
   * Attempts of a write that DynamoDB refused for a transient reason (a concurrent transaction on the same item,
   * throttling), before the error propagates. A condition failure is never retried here: that is the caller's call.
   * @default 8
   */
  readonly maxWriteAttempts?: number;
  /**
   * Base of the exponential backoff between those attempts, in milliseconds; each wait is drawn uniformly from
   * `[0, base * 2^attempt)` (full jitter), capped at one second.
   * @default 20
   */
  readonly retryBaseDelayMs?: number;
}

const DEFAULT_QUERY_LIMIT = 100;
const MAX_QUERY_LIMIT = 1_000;
const MAX_RETRY_DELAY_MS = 1_000;

/** Expression attribute names. `data` is a DynamoDB reserved word, so every name goes through a placeholder. */
const NAMES = {
  pk: { '#pk': 'pk' },
  rev: { '#rev': 'rev' },
  put: { '#data': 'data', '#rev': 'rev', '#exp': 'expiresAt', '#expMs': 'expiresAtMs' },
} as const;

/**
 * Why DynamoDB cancelled or refused a write, when a plain retry may succeed: another transaction held one of the
 * items (DynamoDB cancels rather than waits), or the table or partition is throttled.
 */
const TRANSIENT_ERRORS: ReadonlySet<string> = new Set([
  'TransactionConflictException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
]);
const TRANSIENT_CANCELLATIONS: ReadonlySet<string> = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
]);

/** One `transact` call's state across its attempts. */
interface WriteAttempt {
  /** The TransactWriteItems idempotency token. */
  token: string;
  /** An earlier attempt may have been applied although it failed. */
  mayHaveApplied: boolean;
}

/** The parts of a DynamoDB request that express one operation's condition. */
interface ConditionExpression {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/**
 * The AWS `Store`: one DynamoDB table, one item per (pk, sk).
 *
 * Each item holds `rev` (N), `data` (S, the JSON text: arbitrary JSON keys never meet DynamoDB's attribute-name
 * rules, and the item size is the JSON size), and when it expires `expiresAt` (N, epoch **seconds**, as DynamoDB TTL
 * requires) beside `expiresAtMs` (N, the port's exact epoch milliseconds).
 *
 * A put is an update expression, `rev = if_not_exists(rev, 0) + 1`, so the revision increments atomically inside
 * DynamoDB with no prior read. Conditions become condition expressions; a transaction of several operations is one
 * `TransactWriteItems`, a single put or delete one conditional `UpdateItem`/`DeleteItem` (half the write cost).
 * Sort keys order as DynamoDB orders them, by UTF-8 bytes, which is the port's order.
 *
 * IAM: besides the read actions, a put needs `dynamodb:UpdateItem` (also inside a transaction), a delete
 * `dynamodb:DeleteItem`, a check `dynamodb:ConditionCheckItem`.
 *
 * @example
 * const store = new DynamoDbStore({ client: new DynamoDBClient({}), tableName: 'coffer-items' });
 * await store.transact([{ type: 'put', pk: 'secrets', sk: 'prod/db', data: { name: 'prod/db' }, condition: { kind: 'absent' } }]);
 * const item = await store.get('secrets', 'prod/db');
 */
export class DynamoDbStore implements Store {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly consistentReads: boolean;
  private readonly maxWriteAttempts: number;
  private readonly retryBaseDelayMs: number;
  private closed = false;

  constructor(options: DynamoDbStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.consistentReads = options.consistentReads ?? true;
    this.maxWriteAttempts = Math.max(1, options.maxWriteAttempts ?? 8);
    this.retryBaseDelayMs = Math.max(0, options.retryBaseDelayMs ?? 20);
  }

  async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.assertOpen();
    const output = await this.call('GetItem', () =>
      this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: key(pk, sk),
          ConsistentRead: this.consistentReads,
        }),
      ),
    );
    return output.Item === undefined ? undefined : toItem<T>(output.Item);
  }

  async query<T extends ItemData = ItemData>(pk: string, options: QueryOptions = {}): Promise<Page<T>> {
    this.assertOpen();
    const requested = Number.isFinite(options.limit) ? options.limit! : DEFAULT_QUERY_LIMIT;
    const limit = Math.trunc(Math.min(Math.max(requested, 1), MAX_QUERY_LIMIT));
    const prefix = options.prefix === '' ? undefined : options.prefix;
    let startAfter = options.startAfter;

    // DynamoDB refuses an ExclusiveStartKey outside the key condition, so resolve startAfter against the prefix here.
    if (prefix !== undefined && startAfter !== undefined && !startAfter.startsWith(prefix)) {
      // Below the prefix, every prefixed key is after startAfter anyway. Above it, every prefixed key is before it
      // (startAfter differs from the prefix at a byte where it is greater), so the page is empty.
      if (compareKeys(startAfter, prefix) > 0) return { items: [] };
      startAfter = undefined;
    }

    const input: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: prefix === undefined ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: prefix === undefined ? { '#pk': 'pk' } : { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues:
        prefix === undefined ? { ':pk': { S: pk } } : { ':pk': { S: pk }, ':prefix': { S: prefix } },
      ConsistentRead: this.consistentReads,
    };

    // One item beyond the page tells whether another page exists: DynamoDB's LastEvaluatedKey alone cannot, as it
    // is also set when the page happens to end exactly at the last item. A response can stop early at 1 MB, so
    // keep reading until the extra item arrives or the partition is exhausted.
    const items: StoredItem<T>[] = [];
    let exclusiveStartKey = startAfter === undefined ? undefined : key(pk, startAfter);
    do {
      const output = await this.call('Query', () =>
        this.client.send(
          new QueryCommand({
            ...input,
            Limit: limit + 1 - items.length,
            ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
          }),
        ),
      );
      for (const raw of output.Items ?? []) items.push(toItem<T>(raw));
      exclusiveStartKey = output.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined && items.length <= limit);

    if (items.length <= limit) return { items };
    const page = items.slice(0, limit);
    return { items: page, lastKey: page[page.length - 1]!.sk };
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    this.assertOpen();
    validateOps(ops);
    for (const op of ops) {
      if (op.type === 'put' && op.expiresAt !== undefined && !Number.isFinite(op.expiresAt)) {
        throw new RangeError('expiresAt must be a finite number of epoch milliseconds');
      }
    }
    // Built once, at call time, so later mutation of the caller's objects cannot change what is written.
    const items = ops.map((op) => this.transactItem(op));

    const attempt: WriteAttempt = { token: randomUUID(), mayHaveApplied: false };
    try {
      await withRetries(
        () => this.write(items, attempt),
        // A condition failure is the caller's to handle, never retried here.
        (error) => failedConditionIndex(error, ops.length) === undefined && isTransient(error),
        // Full jitter: transactions that collided on one item spread out instead of colliding again in lockstep.
        { maxAttempts: this.maxWriteAttempts, baseDelayMs: this.retryBaseDelayMs * 2, maxDelayMs: MAX_RETRY_DELAY_MS },
        { sleep: (ms) => sleep(ms), random: Math.random },
      );
    } catch (error) {
      const failed = failedConditionIndex(error, ops.length);
      if (failed !== undefined) {
        const op = ops[failed]!;
        throw new ConditionFailedError(failed, op.pk, op.sk);
      }
      // Throttled or failing through every attempt: a 503 the caller may retry, not a bug. An attempt that may have
      // applied leaves the outcome open, and the message says so (a retry of the same write converges).
      if (isTransient(error) || isUnavailableAwsError(error)) {
        const outcome = attempt.mayHaveApplied ? 'the write may or may not have been applied' : 'nothing was written';
        throw dependencyUnavailable('DynamoDB', 'write', error, outcome);
      }
      throw new InternalError(`DynamoDB write failed (${errorName(error)})`, { cause: error });
    }
  }

  /** Nothing to release (the caller owns the client); later calls reject, as with every other adapter. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('DynamoDbStore is closed');
  }

  /**
   * Sends one attempt: a lone put or delete as a plain conditional write, anything else as one transaction. Notes in
   * `attempt` whether this call may have applied although it failed (the SDK sent it more than once, or it failed
   * without an answer), which the next attempt of the same write must know.
   */
  private async write(items: readonly TransactWriteItem[], attempt: WriteAttempt): Promise<void> {
    try {
      await this.send(items, attempt);
    } catch (error) {
      const sdkAttempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
      if (sdkAttempts > 1 || !isServiceAnswer(error)) attempt.mayHaveApplied = true;
      else if (attempt.mayHaveApplied === false && items.length > 1) {
        // Refused outright (a cancellation, one throttled attempt): nothing applied, so the next attempt may take a
        // token of its own and never meets this one's outcome.
        attempt.token = randomUUID();
      }
      throw error;
    }
  }

  private async send(items: readonly TransactWriteItem[], attempt: WriteAttempt): Promise<void> {
    const only = items.length === 1 ? items[0]! : undefined;
    if (only?.Update !== undefined) {
      const update = only.Update;
      await this.client.send(new UpdateItemCommand({ ...update })).catch(async (error: unknown) => {
        const data = update.ExpressionAttributeValues?.[':data']?.S;
        if (!(await this.retriedIntoOwnWrite(error, attempt, update.Key!, data))) throw error;
      });
    } else if (only?.Delete !== undefined) {
      const del = only.Delete;
      await this.client.send(new DeleteItemCommand({ ...del })).catch(async (error: unknown) => {
        if (!(await this.retriedIntoOwnWrite(error, attempt, del.Key!, undefined))) throw error;
      });
    } else {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [...items],
          // One token for every attempt that may follow an applied one: DynamoDB answers a repeat of an applied
          // transaction with success instead of applying it again (the SDK's own retries reuse it too). A refused
          // attempt hands the next one a fresh token (see write), so a cancellation never holds up a later attempt.
          ClientRequestToken: attempt.token,
        }),
      );
    }
  }

  /**
   * Whether a lone conditional write that failed its condition only did so because an earlier attempt of the same
   * write had already applied (its answer was lost: a timeout or reset after DynamoDB wrote, then the SDK, or this
   * store after a throttled retry, sent it again). UpdateItem and DeleteItem take no idempotency token, so the repeat
   * meets the item the first attempt left; without this check the caller would hear "condition failed" for its own
   * write, re-read, and apply its change a second time.
   *
   * Only then does a fresh strongly consistent read decide: a put applied when the item now holds exactly the data
   * this write carried; a delete when the item is gone. Either way the item is in the state the write asked for.
   */
  private async retriedIntoOwnWrite(
    error: unknown,
    attempt: WriteAttempt,
    itemKey: Record<string, AttributeValue>,
    data: string | undefined,
  ): Promise<boolean> {
    if (errorName(error) !== 'ConditionalCheckFailedException') return false;
    const sdkAttempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    if (sdkAttempts < 2 && !attempt.mayHaveApplied) return false;
    const fresh = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: itemKey, ConsistentRead: true }),
    );
    return data === undefined ? fresh.Item === undefined : fresh.Item?.data?.S === data;
  }

  private transactItem(op: WriteOp): TransactWriteItem {
    const base = { TableName: this.tableName, Key: key(op.pk, op.sk) };
    const condition = conditionExpression(op.condition);
    switch (op.type) {
      case 'put': {
        const values: Record<string, AttributeValue> = {
          ...condition.ExpressionAttributeValues,
          ':data': { S: JSON.stringify(op.data) },
          ':zero': { N: '0' },
          ':one': { N: '1' },
        };
        let update = 'SET #data = :data, #rev = if_not_exists(#rev, :zero) + :one';
        if (op.expiresAt === undefined) {
          update += ' REMOVE #exp, #expMs';
        } else {
          update += ', #exp = :exp, #expMs = :expMs';
          values[':exp'] = { N: String(ttlSeconds(op.expiresAt)) };
          values[':expMs'] = { N: String(op.expiresAt) };
        }
        return {
          Update: {
            ...base,
            UpdateExpression: update,
            ...(condition.ConditionExpression === undefined
              ? {}
              : { ConditionExpression: condition.ConditionExpression }),
            ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, ...NAMES.put },
            ExpressionAttributeValues: values,
          },
        };
      }
      case 'delete':
        return { Delete: { ...base, ...condition } };
      case 'check':
        return { ConditionCheck: { ...base, ...condition, ConditionExpression: condition.ConditionExpression! } };
    }
  }

  /** Runs one read, wrapping any failure so that callers see a typed error whose message names only the cause. */
  private async call<R>(operation: string, send: () => Promise<R>): Promise<R> {
    try {
      return await send();
    } catch (error) {
      if (isUnavailableAwsError(error)) throw dependencyUnavailable('DynamoDB', operation, error);
      throw new InternalError(`DynamoDB ${operation} failed (${errorName(error)})`, { cause: error });
    }
  }
}

function key(pk: string, sk: string): Record<string, AttributeValue> {
  return { pk: { S: pk }, sk: { S: sk } };
}

function conditionExpression(condition: Condition | undefined): ConditionExpression {
  if (condition === undefined) return {};
  switch (condition.kind) {
    case 'absent':
      return { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { ...NAMES.pk } };
    case 'exists':
      return { ConditionExpression: 'attribute_exists(#pk)', ExpressionAttributeNames: { ...NAMES.pk } };
    case 'rev':
      // A missing item has no rev, so the comparison is false for it, as the port requires.
      return {
        ConditionExpression: '#rev = :expectedRev',
        ExpressionAttributeNames: { ...NAMES.rev },
        ExpressionAttributeValues: { ':expectedRev': { N: String(condition.rev) } },
      };
  }
}

/**
 * DynamoDB TTL reads epoch seconds. Rounding up means the store never removes an item before the port's
 * millisecond deadline; the exact milliseconds are kept beside it for the round trip.
 */
function ttlSeconds(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}

/**
 * The index of the first operation whose condition DynamoDB reported as failed, or undefined when the error is not
 * a condition failure. A lone put or delete fails with ConditionalCheckFailedException; a transaction with
 * TransactionCanceledException, whose CancellationReasons line up with the operations.
 */
export function failedConditionIndex(error: unknown, opCount: number): number | undefined {
  const name = errorName(error);
  if (name === 'ConditionalCheckFailedException' && opCount === 1) return 0;
  if (name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: readonly { Code?: string }[] }).CancellationReasons ?? [];
  const index = reasons.findIndex((reason) => reason?.Code === 'ConditionalCheckFailed');
  return index >= 0 && index < opCount ? index : undefined;
}

/** Whether DynamoDB refused the write for a reason that a later attempt may not meet (and nothing was applied). */
function isTransient(error: unknown): boolean {
  const name = errorName(error);
  if (TRANSIENT_ERRORS.has(name)) return true;
  if (name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: readonly { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason?.Code !== undefined && TRANSIENT_CANCELLATIONS.has(reason.Code));
}

/**
 * A failure DynamoDB answered (the SDK's service exceptions carry `$fault`), as opposed to one with no answer at all
 * (a timeout, a reset), after which the request may or may not have been applied.
 */
function isServiceAnswer(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$fault' in error;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown error';
}

function toItem<T extends ItemData>(raw: Record<string, AttributeValue>): StoredItem<T> {
  const pk = raw.pk?.S;
  const sk = raw.sk?.S;
  const rev = Number(raw.rev?.N);
  const json = raw.data?.S;
  // The message names no attribute value: data may hold sealed secrets, keys may hold secret names.
  if (pk === undefined || sk === undefined || !Number.isSafeInteger(rev) || json === undefined) {
    throw new InternalError('DynamoDB item is malformed: it lacks pk, sk, rev or data');
  }
  let data: T;
  try {
    data = JSON.parse(json) as T;
  } catch {
    // No cause: JSON.parse's message quotes the text it choked on.
    throw new InternalError('DynamoDB item is malformed: data is not JSON');
  }
  const item = { pk, sk, rev, data };
  const expiresAt = expiresAtOf(raw);
  return expiresAt === undefined ? item : { ...item, expiresAt };
}

/** Exact milliseconds when this adapter wrote them; else whatever seconds the TTL attribute holds. */
function expiresAtOf(raw: Record<string, AttributeValue>): number | undefined {
  const exact = raw.expiresAtMs?.N;
  if (exact !== undefined) return Number(exact);
  const seconds = raw.expiresAt?.N;
  return seconds === undefined ? undefined : Number(seconds) * 1000;
}
