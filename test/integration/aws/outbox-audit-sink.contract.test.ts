import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { S3AuditSegments, streamPrefix } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import { AuditOutbox, OUTBOX_PARTITION_PREFIX } from '../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { OutboxAuditSink } from '../../../lambdas/core/audit/outbox/outbox-audit-sink.ts';
import { OutboxRelay } from '../../../lambdas/core/audit/outbox/outbox-relay.ts';
import type { ItemData, Page, QueryOptions, Store, StoredItem, WriteOp } from '../../../lambdas/core/ports/store.ts';
import { describeAuditSinkContract } from '../../contract/audit-sink.contract.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';

const PREFIX = 'audit/';
const bucket = uniqueName('coffer-outbox-contract');
let bucketReady: Promise<unknown> | undefined;

/** The DynamoDB store, refusing new outbox items once told to (the writers' side of an outage). */
class OutageStore implements Store {
  failing = false;
  constructor(private readonly inner: Store) {}

  get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    return this.inner.get<T>(pk, sk);
  }

  query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>> {
    return this.inner.query<T>(pk, options);
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    if (this.failing && ops.some((op) => op.type === 'put' && op.pk.startsWith(OUTBOX_PARTITION_PREFIX))) {
      throw Object.assign(new Error('DynamoDB unavailable'), { name: 'ServiceUnavailable' });
    }
    await this.inner.transact(ops);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function streamLines(s3: S3Client, streamId: string): Promise<string[]> {
  const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: streamPrefix(PREFIX, streamId) }));
  const lines: string[] = [];
  for (const { Key } of listing.Contents ?? []) {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    lines.push(...((await object.Body?.transformToString('utf8')) ?? '').split('\n').filter((line) => line !== ''));
  }
  return lines;
}

// As on the memory store (see test/unit/core/audit/outbox/outbox-audit-sink.contract.test.ts), appends are made
// outside a request scope, and the relay ships the DynamoDB outbox to S3 segments, which the contract reads.
describeAuditSinkContract(
  'OutboxAuditSink (DynamoDB and S3 on the emulator)',
  { orderedAcrossRequests: false, refusesAfterClose: false },
  async () => {
    const dynamodb = new DynamoDBClient(awsEmulator());
    const s3 = new S3Client({ ...awsEmulator(), forcePathStyle: true });
    bucketReady ??= s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await bucketReady;
    const tableName = uniqueName('coffer-outbox-contract');
    await createItemsTable(dynamodb, tableName);
    const items = new DynamoDbStore({ client: dynamodb, tableName });
    const store = new OutageStore(items);
    const streamId = uniqueName('outbox');
    const relay = new OutboxRelay({
      store: items,
      segments: new S3AuditSegments({ client: s3, bucket, prefix: PREFIX, streamId }),
      streamId,
    });
    return {
      sink: new OutboxAuditSink(new AuditOutbox({ store })),
      written: async () => {
        await relay.run();
        return streamLines(s3, streamId);
      },
      failWrites: () => {
        store.failing = true;
      },
      cleanup: async () => {
        await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
        dynamodb.destroy();
        s3.destroy();
      },
    };
  },
);
