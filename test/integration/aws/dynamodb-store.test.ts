import { DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import { ConditionFailedError } from '../../../lambdas/core/ports/store.ts';
import { SecretService } from '../../../lambdas/core/secrets/secret-service.ts';
import { AWSCURRENT, AWSPREVIOUS } from '../../../lambdas/core/secrets/secret-types.ts';
import { describeStoreContract } from '../../contract/store.contract.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';

/**
 * A client for the emulator. moto (5.2.1) serves requests on parallel threads but does not isolate DynamoDB
 * transactions: TransactWriteItems snapshots the whole table first and, when cancelled, restores that snapshot,
 * erasing writes other requests committed meanwhile and keeping writes of other cancelled transactions. Against moto
 * the client therefore sends one request at a time. Callers still interleave their reads and conditional writes
 * freely (that is what the concurrency tests exercise); only the emulator applies each write atomically, as DynamoDB
 * does. LocalStack isolates writes itself, so there the requests run in parallel.
 */
async function emulatorClient(): Promise<DynamoDBClient> {
  const config = awsEmulator();
  const isLocalStack = await fetch(new URL('/_localstack/health', config.endpoint)).then(
    async (response) => {
      await response.arrayBuffer();
      return response.ok;
    },
    () => false,
  );
  return new DynamoDBClient(isLocalStack ? config : { ...config, requestHandler: { httpAgent: { maxSockets: 1 } } });
}

/** One client and one fresh table per suite; every test writes partitions of its own inside it. */
function emulatorTable(prefix: string) {
  const tableName = uniqueName(prefix);
  let client: DynamoDBClient | undefined;
  beforeAll(async () => {
    client = await emulatorClient();
    await createItemsTable(client, tableName);
  });
  afterAll(async () => {
    await client?.send(new DeleteTableCommand({ TableName: tableName }));
    client?.destroy();
  });
  return {
    tableName,
    client: (): DynamoDBClient => client!,
    store: (): DynamoDbStore => new DynamoDbStore({ client: client!, tableName }),
  };
}

describe('DynamoDbStore against the emulator', () => {
  const table = emulatorTable('coffer-store-contract');
  describeStoreContract('DynamoDbStore (emulator)', async () => ({ store: table.store() }));
});

describe('Class: DynamoDbStore', () => {
  const table = emulatorTable('coffer-store-adapter');
  const partition = (): string => uniqueName('adapter');
  const raw = async (pk: string, sk: string) =>
    (
      await table.client().send(
        new GetItemCommand({
          TableName: table.tableName,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item;

  it('stores the deployed item shape: rev as a number, data as JSON text, TTL in whole seconds rounded up', async () => {
    const store = table.store();
    const pk = partition();
    const expiresAt = 1_900_000_000_001;
    await store.transact([{ type: 'put', pk, sk: 'k', data: { 'odd key.with#chars': [1] }, expiresAt }]);

    expect(await raw(pk, 'k')).toEqual({
      pk: { S: pk },
      sk: { S: 'k' },
      rev: { N: '1' },
      data: { S: '{"odd key.with#chars":[1]}' },
      expiresAt: { N: '1900000001' },
      expiresAtMs: { N: '1900000000001' },
    });
  });

  it('reads an expiry written in TTL seconds only as epoch milliseconds', async () => {
    const store = table.store();
    const pk = partition();
    await table.client().send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: { pk: { S: pk }, sk: { S: 'k' }, rev: { N: '4' }, data: { S: '{}' }, expiresAt: { N: '1900000000' } },
      }),
    );

    expect(await store.get(pk, 'k')).toEqual({ pk, sk: 'k', rev: 4, data: {}, expiresAt: 1_900_000_000_000 });
  });

  it('refuses a non-finite expiresAt with a RangeError, writing nothing', async () => {
    const store = table.store();
    const pk = partition();

    await expect(
      store.transact([
        { type: 'put', pk, sk: 'a', data: {} },
        { type: 'put', pk, sk: 'b', data: {}, expiresAt: Number.NaN },
      ]),
    ).rejects.toThrow(RangeError);
    expect(await store.get(pk, 'a')).toBeUndefined();
  });

  it('applies a lone check, failing it as operation 0', async () => {
    const store = table.store();
    const pk = partition();
    await store.transact([{ type: 'check', pk, sk: 'k', condition: { kind: 'absent' } }]);

    const error = await store.transact([{ type: 'check', pk, sk: 'k', condition: { kind: 'exists' } }]).catch((e) => e);

    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(error).toMatchObject({ index: 0, pk, sk: 'k' });
  });

  it('resolves a startAfter outside the prefix instead of sending DynamoDB a start key it would refuse', async () => {
    const store = table.store();
    const pk = partition();
    await store.transact(['a/1', 'b/1', 'b/2', 'c/1'].map((sk) => ({ type: 'put' as const, pk, sk, data: {} })));

    const sks = async (startAfter: string) =>
      (await store.query(pk, { prefix: 'b/', startAfter })).items.map((item) => item.sk);

    expect(await sks('a/9')).toEqual(['b/1', 'b/2']);
    expect(await sks('b/')).toEqual(['b/1', 'b/2']);
    expect(await sks('b/1')).toEqual(['b/2']);
    expect(await sks('b0')).toEqual([]);
  });

  it('fills a page that spans several 1 MB DynamoDB responses, and tells whether more follow', async () => {
    const store = table.store();
    const pk = partition();
    // 12 items of ~150 kB: DynamoDB returns at most 1 MB per Query response, so no page fits one response.
    const sks = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    for (const sk of sks) await store.transact([{ type: 'put', pk, sk, data: { pad: 'x'.repeat(150_000) } }]);

    const first = await store.query(pk, { limit: 10 });
    const all = await store.query(pk, { limit: 12 });

    expect(first.items.map((item) => item.sk)).toEqual(sks.slice(0, 10));
    expect(first.lastKey).toBe('k09');
    expect(all.items.map((item) => item.sk)).toEqual(sks);
    expect(all.lastKey).toBeUndefined();
  });

  it('rejects every call after close, with no AWS request', async () => {
    const store = table.store();
    await store.close();

    await expect(store.get('p', 'k')).rejects.toThrow('DynamoDbStore is closed');
    await expect(store.query('p')).rejects.toThrow('DynamoDbStore is closed');
    await expect(store.transact([{ type: 'put', pk: 'p', sk: 'k', data: {} }])).rejects.toThrow(
      'DynamoDbStore is closed',
    );
  });
});

describe('Class: DynamoDbStore under SecretService', () => {
  const table = emulatorTable('coffer-store-secrets');
  const WRITERS = 50;

  it(`loses no update across ${WRITERS} parallel writers putting values and moving stages on one secret`, async () => {
    const store = table.store();
    // Far more attempts than the default: every writer must eventually win, so the counts below are exact.
    const secrets = new SecretService({
      store,
      keyProvider: new FakeKeyProvider(),
      clock: systemClock,
      maxWriteAttempts: 10_000,
      // The store's conditional writes are under test, not the per-secret rate limit.
      writeRate: 'unlimited',
    });
    const name = uniqueName('race/secret');
    await secrets.create({ name });
    const acknowledged = new Map<string, string>();
    let movesAcknowledged = 0;

    /** Moves AWSCURRENT (dragging AWSPREVIOUS) to `versionId`, naming whichever version holds it right now. */
    const moveCurrentTo = async (versionId: string): Promise<void> => {
      for (;;) {
        const holder = Object.entries((await secrets.describe({ secretId: name })).versionIdsToStages).find(
          ([, stages]) => stages.includes(AWSCURRENT),
        )?.[0];
        try {
          await secrets.updateVersionStage({
            secretId: name,
            versionStage: AWSCURRENT,
            moveToVersionId: versionId,
            removeFromVersionId: holder,
          });
          movesAcknowledged++;
          return;
        } catch (error) {
          // Another writer moved the label since the describe: the service refuses a stale removeFromVersionId.
          if (!(error instanceof Error && error.name === 'ValidationError')) throw error;
        }
      }
    };

    const writer = async (i: number): Promise<void> => {
      const value = `value-${i}`;
      const { versionId } = await secrets.put({ secretId: name, value: { kind: 'string', string: value } });
      acknowledged.set(versionId, value);
      await moveCurrentTo(versionId);
    };
    const outcomes = await Promise.allSettled(Array.from({ length: WRITERS }, (_, i) => writer(i)));

    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    expect(acknowledged.size).toBe(WRITERS);
    expect(movesAcknowledged).toBe(WRITERS);

    // Every acknowledged put's version is listed by the metadata item and stored with its value.
    const listed = await secrets.listVersions({ secretId: name, includeDeprecated: true, limit: 100 });
    expect(listed.nextCursor).toBeUndefined();
    expect(listed.versions.map((version) => version.versionId).sort()).toEqual([...acknowledged.keys()].sort());
    const stored = await store.query(`secret-versions#${(await secrets.describe({ secretId: name })).arn}`);
    expect(stored.items.map((item) => item.sk).sort()).toEqual([...acknowledged.keys()].sort());
    for (const [versionId, value] of acknowledged) {
      const read = await secrets.get({ secretId: name, versionId });
      expect(read.value).toEqual({ kind: 'string', string: value });
    }

    // Exactly one version carries each label, on different versions; the current one is an acknowledged put.
    const carriers = (label: string) =>
      listed.versions.filter((version) => version.versionStages.includes(label)).map((version) => version.versionId);
    expect(carriers(AWSCURRENT)).toHaveLength(1);
    expect(carriers(AWSPREVIOUS)).toHaveLength(1);
    expect(carriers(AWSPREVIOUS)).not.toEqual(carriers(AWSCURRENT));
    expect(acknowledged.has(carriers(AWSCURRENT)[0]!)).toBe(true);
    const current = await secrets.get({ secretId: name });
    expect(current.versionId).toBe(carriers(AWSCURRENT)[0]);
    expect(current.value).toEqual({ kind: 'string', string: acknowledged.get(current.versionId) });
    // 50 writers retrying against one emulator: the attempts grow with contention, so a busy machine needs longer.
  }, 240_000);
});
