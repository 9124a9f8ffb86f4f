import { NoSuchBucket, PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3AuditError, S3AuditSink, segmentKey } from '../../../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import type { AuditRecord } from '../../../../../lambdas/core/audit/audit-types.ts';
import { GENESIS_HASH, verifyChain } from '../../../../../lambdas/core/audit/hash-chain.ts';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';

const BUCKET = 'coffer-audit';
const NOW = Date.UTC(2026, 10, 28, 4, 0, 0);
const clock = { now: () => NOW };

function record(n: number): AuditRecord {
  return {
    type: 'response',
    time: '2026-11-28T04:00:00.000Z',
    requestId: `req-${n}`,
    operation: 'secret.read',
    path: 'secrets/app',
    sourceIp: '10.0.0.1',
    outcome: 'ok',
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('Class: S3AuditSink', () => {
  const s3 = mockClient(S3Client);
  let client: S3Client;

  const puts = (): PutObjectCommandInput[] => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
  const appendAll = (sink: S3AuditSink, from: number, count: number) =>
    Promise.all(Array.from({ length: count }, (_, i) => sink.append(record(from + i), { durable: i === 0 })));

  beforeEach(() => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({});
    client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });

  afterEach(() => {
    client.destroy();
  });

  it('writes the appends of one event-loop turn with one PutObject', async () => {
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-1', clock });
    await appendAll(sink, 1, 50);

    expect(puts()).toHaveLength(1);
    const [input] = puts();
    expect(input).toMatchObject({
      Bucket: BUCKET,
      Key: 'audit/i-1/000000000001-000000000050.jsonl',
      ContentType: 'application/x-ndjson',
      ChecksumAlgorithm: 'SHA256',
      IfNoneMatch: '*',
    });
    expect(input?.ObjectLockMode).toBeUndefined();
    expect(input?.ObjectLockRetainUntilDate).toBeUndefined();
    const lines = String(input?.Body).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(await verifyChain(lines)).toMatchObject({ ok: true, records: 50 });
    expect(lines.slice(0, -1).map((line) => JSON.parse(line).requestId)).toEqual(
      Array.from({ length: 50 }, (_, i) => `req-${i + 1}`),
    );
  });

  it('writes a record holding Unicode line terminators as one escaped line that verifies', async () => {
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-1', clock });
    await sink.append({ ...record(1), path: 'secrets/a\u2028b\u2029c\u0085d' }, { durable: true });
    const body = String(puts()[0]?.Body);
    expect(body.trimEnd().split(/\r\n|[\n\v\f\r\u0085\u2028\u2029]/)).toHaveLength(1);
    expect(body).toContain('a\\u2028b\\u2029c\\u0085d');
    expect(JSON.parse(body)).toMatchObject({ path: 'secrets/a\u2028b\u2029c\u0085d' });
    await expect(verifyChain(body.trimEnd().split('\n'))).resolves.toMatchObject({ ok: true, records: 1 });
  });

  it('continues the chain in the next object', async () => {
    const sink = new S3AuditSink({ client, bucket: BUCKET, prefix: 'logs/', streamId: 'i-2', clock });
    await appendAll(sink, 1, 3);
    await appendAll(sink, 4, 2);

    expect(puts().map((input) => input.Key)).toEqual([
      'logs/i-2/000000000001-000000000003.jsonl',
      'logs/i-2/000000000004-000000000005.jsonl',
    ]);
    const lines = puts().flatMap((input) => String(input.Body).trimEnd().split('\n'));
    expect(JSON.parse(lines[0]!).prev).toBe(GENESIS_HASH);
    expect(await verifyChain(lines)).toMatchObject({ ok: true, records: 5, last: { seq: 5 } });
  });

  it('splits a queue larger than maxBatch into consecutive objects', async () => {
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-3', maxBatch: 4, clock });
    await appendAll(sink, 1, 10);
    expect(puts().map((input) => input.Key)).toEqual([
      segmentKey('audit/', 'i-3', 1, 4),
      segmentKey('audit/', 'i-3', 5, 8),
      segmentKey('audit/', 'i-3', 9, 10),
    ]);
  });

  it('keeps one PutObject in flight and batches what arrives meanwhile', async () => {
    let release: () => void = () => undefined;
    let inFlight = 0;
    let maxInFlight = 0;
    s3.on(PutObjectCommand).callsFake(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (puts().length === 1) await new Promise<void>((resolve) => (release = resolve));
      inFlight--;
      return {};
    });
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-4', clock });
    const first = sink.append(record(1), { durable: true });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const later = [appendAll(sink, 2, 3)];
    await new Promise((resolve) => setImmediate(resolve));
    later.push(appendAll(sink, 5, 2));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, ...later]);

    expect(maxInFlight).toBe(1);
    expect(puts().map((input) => input.Key)).toEqual([
      segmentKey('audit/', 'i-4', 1, 1),
      segmentKey('audit/', 'i-4', 2, 6),
    ]);
  });

  it('rejects every append of a failed batch and every later append', async () => {
    s3.on(PutObjectCommand).rejects(
      new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }),
    );
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-5', clock });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => sink.append(record(i), { durable: false })),
    );

    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    const [first] = results as PromiseRejectedResult[];
    expect(first?.reason).toBeInstanceOf(S3AuditError);
    expect(first?.reason.message).toMatch(/000000000001-000000000005\.jsonl could not be written \(NoSuchBucket\)/);

    s3.on(PutObjectCommand).resolves({});
    expect(await rejection(sink.append(record(6), { durable: true }))).toBe(first?.reason);
    expect(puts()).toHaveLength(1);
  });

  it('rejects the rest of a split queue once one object fails', async () => {
    s3.on(PutObjectCommand).resolvesOnce({}).rejects(new Error('boom'));
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-6', maxBatch: 2, clock });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => sink.append(record(i), { durable: false })),
    );
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
    ]);
    expect(puts()).toHaveLength(2);
  });

  it('never puts record contents into its error', async () => {
    s3.on(PutObjectCommand).rejects(new Error('boom'));
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-7', clock });
    const error = (await rejection(
      sink.append({ ...record(1), path: 'secrets/top-secret-path' }, { durable: true }),
    )) as Error;
    expect(error.message).not.toContain('top-secret-path');
  });

  it('sets per-object retention from the clock when configured', async () => {
    const sink = new S3AuditSink({
      client,
      bucket: BUCKET,
      streamId: 'i-8',
      clock,
      retention: { mode: 'COMPLIANCE', days: 30 },
    });
    await sink.append(record(1), { durable: true });
    expect(puts()[0]).toMatchObject({
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(NOW + 30 * 86_400_000),
      ChecksumAlgorithm: 'SHA256',
    });
  });

  it('flushes queued appends on close and refuses appends afterwards', async () => {
    const sink = new S3AuditSink({ client, bucket: BUCKET, streamId: 'i-9', clock });
    const pending = sink.append(record(1), { durable: false });
    await sink.close();
    await pending;
    expect(puts()).toHaveLength(1);
    expect(await rejection(sink.append(record(2), { durable: false }))).toBeInstanceOf(S3AuditError);
  });

  it('gives each instance its own time-ordered stream id by default', () => {
    const a = new S3AuditSink({ client, bucket: BUCKET, clock });
    const b = new S3AuditSink({ client, bucket: BUCKET, clock });
    expect(a.streamId).toMatch(/^20261128T040000Z-[0-9a-f]{16}$/);
    expect(a.streamId).not.toBe(b.streamId);
  });

  it('refuses invalid options', () => {
    expect(() => new S3AuditSink({ client, bucket: BUCKET, streamId: 'a/b' })).toThrow(ValidationError);
    expect(() => new S3AuditSink({ client, bucket: BUCKET, maxBatch: 0 })).toThrow(ValidationError);
    expect(() => new S3AuditSink({ client, bucket: '' })).toThrow(ValidationError);
    expect(() => new S3AuditSink({ client, bucket: BUCKET, retention: { mode: 'GOVERNANCE', days: 0.5 } })).toThrow(
      ValidationError,
    );
  });
});
