import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectLockConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { S3AuditSink, streamPrefix } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import { describeAuditSinkContract } from '../../contract/audit-sink.contract.ts';
import { awsEmulator, uniqueName } from '../../support/aws-emulator.ts';

const PREFIX = 'audit/';
const bucket = uniqueName('coffer-audit-contract');
let bucketReady: Promise<void> | undefined;

/** Object-Locked with a COMPLIANCE default retention, like the control plane's audit bucket. */
async function createBucket(client: S3Client): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  await client.send(
    new PutObjectLockConfigurationCommand({
      Bucket: bucket,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
      },
    }),
  );
}

/** Every line of one stream, in key (seq) order, read with a client of its own. */
async function streamLines(client: S3Client, streamId: string): Promise<string[]> {
  const listing = await client.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: streamPrefix(PREFIX, streamId) }),
  );
  const lines: string[] = [];
  for (const { Key } of listing.Contents ?? []) {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
    const text = (await object.Body?.transformToString('utf8')) ?? '';
    lines.push(...text.split('\n').filter((line) => line !== ''));
  }
  return lines;
}

describeAuditSinkContract(
  'S3AuditSink (emulator)',
  { orderedAcrossRequests: true, refusesAfterClose: true },
  async () => {
    const reader = new S3Client({ ...awsEmulator(), forcePathStyle: true });
    bucketReady ??= createBucket(reader);
    await bucketReady;
    // The sink's own client can be cut off from S3, as in an outage; the reader's cannot.
    const client = new S3Client({ ...awsEmulator(), forcePathStyle: true });
    let failing = false;
    client.middlewareStack.add(
      (next) => (args) => {
        if (failing) return Promise.reject(Object.assign(new Error('S3 unavailable'), { name: 'ServiceUnavailable' }));
        return next(args);
      },
      { step: 'initialize', name: 'contractOutage' },
    );
    const sink = new S3AuditSink({ client, bucket, prefix: PREFIX, streamId: uniqueName('contract') });
    return {
      sink,
      written: () => streamLines(reader, sink.streamId),
      failWrites: () => {
        failing = true;
      },
      cleanup: async () => {
        client.destroy();
        reader.destroy();
      },
    };
  },
);
