import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3AuditSink, streamPrefix } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import { S3AuditWindow } from '../../../lambdas/adapters/aws/s3-audit/s3-audit-window.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { awsEmulator, uniqueName } from '../../support/aws-emulator.ts';

const PREFIX = 'audit/';

function record(n: number, type: 'request' | 'response'): AuditRecord {
  return {
    type,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    requestId: `req-${n}`,
    operation: 'secret.read',
    path: `secrets/app/${n}`,
    sourceIp: '10.0.0.1',
    ...(type === 'response' && { outcome: 'ok' as const }),
  };
}

/**
 * The compliance report's reader of the S3 audit log (issue 16), against the emulator's S3: the records the sink wrote,
 * in order, and a verdict on the chain it read that names an altered or missing object.
 */
describe('Class: S3AuditWindow (emulator)', () => {
  let client: S3Client;
  let bucket: string;

  beforeAll(async () => {
    client = new S3Client({ ...awsEmulator(), forcePathStyle: true });
    bucket = uniqueName('coffer-audit-window');
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(() => client.destroy());

  /** A stream of `batches` objects of request+response pairs, written by the real sink. */
  async function writeStream(batches: number): Promise<{ streamId: string; keys: string[] }> {
    const sink = new S3AuditSink({ client, bucket, prefix: PREFIX, streamId: uniqueName('stream') });
    for (let b = 0; b < batches; b++) {
      await sink.append(record(b, 'request'), { durable: false });
      await sink.append(record(b, 'response'), { durable: false });
    }
    await sink.close();
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: streamPrefix(PREFIX, sink.streamId) }),
    );
    return { streamId: sink.streamId, keys: (page.Contents ?? []).map((o) => o.Key!) };
  }

  const read = async (reader: S3AuditWindow, from: number) => {
    const records: AuditRecord[] = [];
    for await (const r of reader.records(from)) records.push(r);
    return { records, verdicts: await reader.verify(from) };
  };

  it('reads every stream in seq order and verifies the stretch it read', async () => {
    const a = await writeStream(3);
    const b = await writeStream(2);
    const { records, verdicts } = await read(
      new S3AuditWindow({ client, bucket, prefix: PREFIX }),
      Date.now() - 3_600_000,
    );
    const mine = (streamId: string) => verdicts.find((v) => v.source === `s3://${bucket}/${PREFIX}${streamId}/`);
    expect(mine(a.streamId)).toEqual({ source: `s3://${bucket}/${PREFIX}${a.streamId}/`, ok: true, records: 6 });
    expect(mine(b.streamId)).toMatchObject({ ok: true, records: 4 });
    expect(records).toHaveLength(10);
    // Each stream in seq order: every request right before its response.
    for (let i = 0; i < records.length; i += 2) {
      expect([records[i]!.type, records[i + 1]!.type]).toEqual(['request', 'response']);
      expect(records[i]!.requestId).toBe(records[i + 1]!.requestId);
    }
  });

  it('leaves out objects written before the window', async () => {
    await writeStream(1);
    const { records, verdicts } = await read(
      new S3AuditWindow({ client, bucket, prefix: PREFIX }),
      Date.now() + 3_600_000,
    );
    expect(records).toEqual([]);
    for (const v of verdicts) expect(v).toMatchObject({ ok: true, records: 0 });
  });

  it('names an altered record and a missing object', async () => {
    const altered = await writeStream(3);
    const key = altered.keys[2]!;
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await object.Body!.transformToString('utf8')).replace('secrets/app/1', 'secrets/app/9');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
    const missing = await writeStream(3);
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: missing.keys[2]! }));

    const { verdicts } = await read(new S3AuditWindow({ client, bucket, prefix: PREFIX }), Date.now() - 3_600_000);
    const of = (streamId: string) => verdicts.find((v) => v.source.endsWith(`${streamId}/`));
    expect(of(altered.streamId)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/line 1: seq 3 does not match its hash/),
    });
    expect(of(missing.streamId)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^missing object: seqs 3-3 are absent/),
    });
  });
});
