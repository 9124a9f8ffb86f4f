import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HttpResponse } from '@smithy/protocol-http';
import { describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { InternalError } from '../../../../../lambdas/core/errors.ts';
import type { WriteOp } from '../../../../../lambdas/core/ports/store.ts';

/**
 * DynamoDbStore under throttling, 5xx and timeouts through a real DynamoDBClient whose HTTP handler answers from a
 * script, so the SDK's own retry strategy runs as in production and the attempts it makes can be counted.
 */

type Scripted = { status: number; type?: string } | { error: string } | 'ok';

/** A client whose every HTTP attempt is answered by the next entry of `script` (the last one repeats). */
function scriptedClient(script: Scripted[]) {
  const seen: Array<{ target: string; body: Record<string, unknown> }> = [];
  const respond = (statusCode: number, body: string) => ({
    response: new HttpResponse({
      statusCode,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: Readable.from([Buffer.from(body)]),
    }),
  });
  const requestHandler = {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request: { headers: Record<string, string>; body?: unknown }) {
      seen.push({ target: request.headers['x-amz-target'] ?? '', body: JSON.parse(String(request.body ?? '{}')) });
      const step = script[Math.min(seen.length - 1, script.length - 1)]!;
      if (step === 'ok') return respond(200, '{}');
      if ('error' in step) throw Object.assign(new Error('injected'), { code: step.error, name: step.error });
      return respond(step.status, step.type === undefined ? '' : JSON.stringify({ __type: step.type, message: 'x' }));
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
  const client = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    endpoint: 'http://127.0.0.1:1',
    // The SDK's retry defaults (standard mode, 3 attempts) are what production runs, so none is overridden here.
    requestHandler,
  });
  return { client, seen };
}

const THROTTLED = { status: 400, type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException' };
const PROVISIONED = { status: 400, type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException' };
const put = (sk: string): WriteOp => ({ type: 'put', pk: 'p', sk, data: { v: sk } });

describe('DynamoDbStore under faults, through the SDK retry strategy', () => {
  it("makes at most the client's maxAttempts (DynamoDB's default: 4) HTTP attempts for a read answering 500", async () => {
    const { client, seen } = scriptedClient([{ status: 500 }]);
    const maxAttempts = await client.config.maxAttempts();
    expect(maxAttempts).toBe(4);
    const store = new DynamoDbStore({ client, tableName: 't' });
    await expect(store.get('p', 's')).rejects.toBeInstanceOf(InternalError);
    expect(seen).toHaveLength(maxAttempts);
  });

  it('bounds a throttled write at maxWriteAttempts × maxAttempts HTTP attempts (8 × 4), never looping', async () => {
    const { client, seen } = scriptedClient([PROVISIONED]);
    const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
    await expect(store.transact([put('a')])).rejects.toBeInstanceOf(InternalError);
    expect(seen).toHaveLength(8 * 4);
  }, 60_000);

  it('keeps the transaction token after a call the SDK retried, since one of its attempts may have applied', async () => {
    const { client, seen } = scriptedClient([THROTTLED, { status: 500 }, { error: 'ETIMEDOUT' }, THROTTLED, 'ok']);
    const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
    await store.transact([put('a'), put('b')]);
    expect(seen).toHaveLength(5);
    // The timed-out attempt may have reached DynamoDB: the store's next attempt repeats its token, so DynamoDB answers
    // it as the same transaction rather than applying it twice.
    expect(new Set(seen.map((s) => s.body.ClientRequestToken)).size).toBe(1);
  }, 60_000);

  it('takes a new token after a transaction DynamoDB cancelled outright (nothing of it applied)', async () => {
    const cancelled = {
      status: 400,
      type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
    };
    const { client, seen } = scriptedClient([cancelled, 'ok']);
    const store = new DynamoDbStore({ client, tableName: 't', retryBaseDelayMs: 0 });
    // A cancellation without reasons is not transient: the store does not retry it.
    await expect(store.transact([put('a'), put('b')])).rejects.toBeInstanceOf(InternalError);
    expect(seen).toHaveLength(1);
  });
});
