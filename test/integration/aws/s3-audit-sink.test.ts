import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  S3AuditError,
  S3AuditSink,
  segmentKey,
  streamPrefix,
  verifyS3AuditStream,
} from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { chainRecord, serialise } from '../../../lambdas/core/audit/hash-chain.ts';
import { awsEmulator, uniqueName } from '../../support/aws-emulator.ts';

const PREFIX = 'audit/';

function record(n: number): AuditRecord {
  return {
    type: 'request',
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
    requestId: `req-${n}`,
    operation: 'secret.read',
    path: `secrets/app/${n}`,
    sourceIp: '10.0.0.1',
  };
}

async function keysOf(client: S3Client, bucket: string, streamId: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: streamPrefix(PREFIX, streamId) }));
  return (page.Contents ?? []).map((object) => object.Key ?? '');
}

async function readText(client: S3Client, bucket: string, key: string, versionId?: string): Promise<string> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return (await object.Body?.transformToString('utf8')) ?? '';
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('Class: S3AuditSink (emulator)', () => {
  let client: S3Client;
  /** Object-Locked like the control plane's audit bucket: COMPLIANCE default retention. */
  let lockedBucket: string;
  /** Versioned but not locked: the only place a test can remove an object to simulate a lost one. */
  let plainBucket: string;

  beforeAll(async () => {
    client = new S3Client({ ...awsEmulator(), forcePathStyle: true });
    lockedBucket = uniqueName('coffer-audit');
    plainBucket = uniqueName('coffer-audit-plain');
    await client.send(new CreateBucketCommand({ Bucket: lockedBucket, ObjectLockEnabledForBucket: true }));
    await client.send(
      new PutObjectLockConfigurationCommand({
        Bucket: lockedBucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
        },
      }),
    );
    await client.send(new CreateBucketCommand({ Bucket: plainBucket }));
    await client.send(
      new PutBucketVersioningCommand({ Bucket: plainBucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
  });

  afterAll(() => {
    client.destroy();
  });

  async function writeStream(bucket: string, batches: readonly number[]): Promise<S3AuditSink> {
    const sink = new S3AuditSink({ client, bucket, prefix: PREFIX, streamId: uniqueName('stream') });
    let n = 0;
    for (const size of batches) {
      await Promise.all(Array.from({ length: size }, () => sink.append(record(++n), { durable: false })));
    }
    return sink;
  }

  it('batches 200 concurrent appends into few objects that verify in call order', async () => {
    const sink = new S3AuditSink({ client, bucket: lockedBucket, prefix: PREFIX });
    await Promise.all(Array.from({ length: 200 }, (_, i) => sink.append(record(i + 1), { durable: i % 2 === 0 })));
    await sink.close();

    const keys = await keysOf(client, lockedBucket, sink.streamId);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(keys.length).toBeLessThanOrEqual(5);
    expect(keys[0]).toMatch(new RegExp(`^audit/${sink.streamId}/000000000001-\\d{12}\\.jsonl$`));

    const result = await verifyS3AuditStream(client, lockedBucket, PREFIX, sink.streamId);
    expect(result).toMatchObject({ ok: true, records: 200, last: { seq: 200 }, objects: keys.length });

    const texts = await Promise.all(keys.map((key) => readText(client, lockedBucket, key)));
    const requestIds = texts.flatMap((text) =>
      text
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as AuditRecord).requestId),
    );
    expect(requestIds).toEqual(Array.from({ length: 200 }, (_, i) => `req-${i + 1}`));
  });

  it('stores objects as ndjson under the bucket default COMPLIANCE retention', async () => {
    const sink = await writeStream(lockedBucket, [3]);
    const [key] = await keysOf(client, lockedBucket, sink.streamId);
    expect(key).toBe(segmentKey(PREFIX, sink.streamId, 1, 3));
    const head = await client.send(new HeadObjectCommand({ Bucket: lockedBucket, Key: key }));
    expect(head.ContentType).toBe('application/x-ndjson');
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    expect(head.ObjectLockRetainUntilDate?.getTime()).toBeGreaterThan(Date.now());
  });

  it('sets per-object retention when asked', async () => {
    const sink = new S3AuditSink({
      client,
      bucket: lockedBucket,
      prefix: PREFIX,
      retention: { mode: 'GOVERNANCE', days: 2 },
    });
    await sink.append(record(1), { durable: true });
    const [key] = await keysOf(client, lockedBucket, sink.streamId);
    const head = await client.send(new HeadObjectCommand({ Bucket: lockedBucket, Key: key }));
    expect(head.ObjectLockMode).toBe('GOVERNANCE');
    expect(head.ObjectLockRetainUntilDate?.getTime()).toBeGreaterThan(Date.now() + 86_400_000);
  });

  it('refuses to delete a compliance-locked audit object version', async () => {
    const sink = await writeStream(lockedBucket, [5]);
    const [key] = await keysOf(client, lockedBucket, sink.streamId);
    const before = await readText(client, lockedBucket, key!);
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: lockedBucket, Prefix: key }));
    const versionId = versions.Versions?.[0]?.VersionId;
    expect(versionId).toBeDefined();

    const error = await rejection(
      client.send(new DeleteObjectCommand({ Bucket: lockedBucket, Key: key, VersionId: versionId })),
    );
    expect(error).toMatchObject({ name: 'AccessDenied' });
    expect(await readText(client, lockedBucket, key!, versionId)).toBe(before);
    expect(await verifyS3AuditStream(client, lockedBucket, PREFIX, sink.streamId)).toMatchObject({
      ok: true,
      records: 5,
    });
  });

  it('detects an object overwritten with a new version', async () => {
    const sink = await writeStream(lockedBucket, [4, 4]);
    const keys = await keysOf(client, lockedBucket, sink.streamId);
    expect(keys).toEqual([segmentKey(PREFIX, sink.streamId, 1, 4), segmentKey(PREFIX, sink.streamId, 5, 8)]);
    const original = await readText(client, lockedBucket, keys[0]!);
    const forged = original.replace('secrets/app/2', 'secrets/app/X');
    // The lock keeps the old version but does not stop a new one: verification must catch it.
    await client.send(
      new PutObjectCommand({ Bucket: lockedBucket, Key: keys[0], Body: forged, ChecksumAlgorithm: 'SHA256' }),
    );

    const result = await verifyS3AuditStream(client, lockedBucket, PREFIX, sink.streamId);
    expect(result).toMatchObject({ ok: false, records: 1, line: 2, seq: 2, key: keys[0] });
    expect(!result.ok && result.reason).toMatch(/line 2: hash mismatch/);
  });

  it('detects a forged object in the stream prefix', async () => {
    const sink = await writeStream(lockedBucket, [3]);
    // A record chained correctly onto seq 2, smuggled in as an object of its own.
    const lines = (await readText(client, lockedBucket, segmentKey(PREFIX, sink.streamId, 1, 3))).split('\n');
    const second = JSON.parse(lines[1]!) as { seq: number; hash: string };
    const forgedKey = segmentKey(PREFIX, sink.streamId, 3, 3);
    await client.send(
      new PutObjectCommand({
        Bucket: lockedBucket,
        Key: forgedKey,
        Body: `${serialise(chainRecord(second, record(99)))}\n`,
        ChecksumAlgorithm: 'SHA256',
      }),
    );

    const result = await verifyS3AuditStream(client, lockedBucket, PREFIX, sink.streamId);
    expect(result).toMatchObject({ ok: false, records: 3, seq: 4, key: forgedKey });
    expect(!result.ok && result.reason).toMatch(/starts at seq 3 but the stream continues at seq 4/);
  });

  it('detects an object that is not a segment', async () => {
    const sink = await writeStream(lockedBucket, [2]);
    const strayKey = `${streamPrefix(PREFIX, sink.streamId)}notes.txt`;
    await client.send(
      new PutObjectCommand({ Bucket: lockedBucket, Key: strayKey, Body: 'x', ChecksumAlgorithm: 'SHA256' }),
    );
    expect(await verifyS3AuditStream(client, lockedBucket, PREFIX, sink.streamId)).toMatchObject({
      ok: false,
      records: 2,
      key: strayKey,
    });
  });

  it('detects a missing object as a seq gap', async () => {
    const sink = await writeStream(plainBucket, [2, 3, 2]);
    const keys = await keysOf(client, plainBucket, sink.streamId);
    expect(keys).toHaveLength(3);
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: plainBucket, Prefix: keys[1] }));
    await client.send(
      new DeleteObjectCommand({ Bucket: plainBucket, Key: keys[1], VersionId: versions.Versions?.[0]?.VersionId }),
    );

    const result = await verifyS3AuditStream(client, plainBucket, PREFIX, sink.streamId);
    expect(result).toMatchObject({ ok: false, records: 2, line: 3, seq: 3, key: keys[2] });
    expect(!result.ok && result.reason).toMatch(/missing object: seqs 3-5/);
  });

  it('detects records cut from the end of the last object', async () => {
    const sink = await writeStream(plainBucket, [3]);
    const [key] = await keysOf(client, plainBucket, sink.streamId);
    const text = await readText(client, plainBucket, key!);
    await client.send(
      new PutObjectCommand({
        Bucket: plainBucket,
        Key: key,
        Body: `${text.split('\n').slice(0, 2).join('\n')}\n`,
      }),
    );

    const result = await verifyS3AuditStream(client, plainBucket, PREFIX, sink.streamId);
    expect(result).toMatchObject({ ok: false, records: 2, seq: 3, key });
  });

  it('never overwrites an existing object of its stream', async () => {
    const streamId = uniqueName('stream');
    const first = new S3AuditSink({ client, bucket: plainBucket, prefix: PREFIX, streamId });
    await first.append(record(1), { durable: true });
    // A second writer misconfigured with the same stream id would clobber seq 1; the conditional put refuses.
    const second = new S3AuditSink({ client, bucket: plainBucket, prefix: PREFIX, streamId });
    expect(await rejection(second.append(record(2), { durable: true }))).toBeInstanceOf(S3AuditError);
    expect(await verifyS3AuditStream(client, plainBucket, PREFIX, streamId)).toMatchObject({ ok: true, records: 1 });
  });

  it('fails closed when the bucket does not exist, and stays broken', async () => {
    const sink = new S3AuditSink({ client, bucket: uniqueName('coffer-missing'), prefix: PREFIX });
    const error = await rejection(sink.append(record(1), { durable: true }));
    expect(error).toBeInstanceOf(S3AuditError);
    expect((error as Error).message).toMatch(/NoSuchBucket/);
    expect(await rejection(sink.append(record(2), { durable: false }))).toBe(error);
  });
});
