import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { KmsKeyProvider } from '../../../../../lambdas/adapters/aws/kms-key-provider/kms-key-provider.ts';
import { S3AuditSegments } from '../../../../../lambdas/adapters/aws/s3-audit/s3-audit-sink.ts';
import { toHttpError } from '../../../../../lambdas/broker/http-errors.ts';
import { DependencyUnavailableError, InternalError } from '../../../../../lambdas/core/errors.ts';
import { OFFLINE, scriptedHandler } from './scripted-http.ts';

/**
 * The KMS key provider and the S3 audit segments under throttling, 5xx and lost answers, through real SDK clients
 * whose HTTP handler answers from a script: the SDK's retries are bounded by the client's maxAttempts (3 for KMS and
 * S3), and neither adapter adds a loop of its own.
 */
const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555';
const kmsThrottled = {
  status: 400,
  contentType: 'application/x-amz-json-1.1',
  body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
};

describe('KmsKeyProvider under throttling', () => {
  it('gives up after the client’s 3 attempts with a typed error that names the cause and no key material', async () => {
    const { handler, seen } = scriptedHandler([kmsThrottled]);
    const client = new KMSClient({ ...OFFLINE, requestHandler: handler });
    expect(await client.config.maxAttempts()).toBe(3);
    const provider = new KmsKeyProvider({ client, keyId: KEY_ARN });
    const error = await provider.generateDataKey({ secret: 'prod/db' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Throttled past its retries: a 503 with Retry-After for the caller (http-errors.ts), not an internal error.
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toContain('KMS GenerateDataKey is unavailable (ThrottlingException)');
    expect(toHttpError(error)).toMatchObject({ status: 503, code: 'dependency_unavailable', retryAfterSeconds: 1 });
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => s.target === 'TrentService.GenerateDataKey')).toBe(true);
  });

  it('gives up after 3 attempts answering 500 or a reset socket with the same 503 error', async () => {
    for (const fault of [{ status: 500 }, { error: 'ECONNRESET' }] as const) {
      const { handler, seen } = scriptedHandler([fault]);
      const provider = new KmsKeyProvider({
        client: new KMSClient({ ...OFFLINE, requestHandler: handler }),
        keyId: KEY_ARN,
      });
      await expect(provider.generateDataKey({ secret: 'prod/db' })).rejects.toBeInstanceOf(DependencyUnavailableError);
      expect(seen).toHaveLength(3);
    }
  });

  it('keeps an access denial an internal error (an operator must fix the grant; retrying cannot)', async () => {
    const denied = {
      status: 400,
      contentType: 'application/x-amz-json-1.1',
      body: JSON.stringify({ __type: 'AccessDeniedException', message: 'not allowed' }),
    };
    const { handler, seen } = scriptedHandler([denied]);
    const provider = new KmsKeyProvider({
      client: new KMSClient({ ...OFFLINE, requestHandler: handler }),
      keyId: KEY_ARN,
    });
    const error = await provider.generateDataKey({ secret: 'prod/db' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(InternalError);
    expect(toHttpError(error).status).toBe(500);
    expect(seen).toHaveLength(1);
  });

  it('gets through a throttled attempt and a 500 on the third', async () => {
    const plaintext = Buffer.alloc(32, 7).toString('base64');
    const blob = Buffer.from('blob').toString('base64');
    const { handler, seen } = scriptedHandler(
      [kmsThrottled, { status: 500 }, 'ok'],
      JSON.stringify({ Plaintext: plaintext, CiphertextBlob: blob, KeyId: KEY_ARN }),
      'application/x-amz-json-1.1',
    );
    const provider = new KmsKeyProvider({
      client: new KMSClient({ ...OFFLINE, requestHandler: handler }),
      keyId: KEY_ARN,
    });
    const key = await provider.generateDataKey({ secret: 'prod/db' });
    expect(key.plaintext).toHaveLength(32);
    expect(seen).toHaveLength(3);
  });
});

describe('S3AuditSegments under faults', () => {
  const slowDown = {
    status: 503,
    contentType: 'application/xml',
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>',
  };
  const preconditionFailed = {
    status: 412,
    contentType: 'application/xml',
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
  };

  it('reports a segment whose first write applied but lost its answer as existing (the relay then reads it back)', async () => {
    // Attempt 1 reached S3 and stored the object, but the connection reset before the answer; the SDK's retry meets
    // If-None-Match and S3 answers 412: never an overwrite, and the relay compares the bytes it reads back.
    const { handler, seen } = scriptedHandler([{ error: 'ECONNRESET' }, preconditionFailed]);
    const segments = new S3AuditSegments({
      client: new S3Client({ ...OFFLINE, forcePathStyle: true, requestHandler: handler }),
      bucket: 'audit',
      streamId: 'outbox',
    });
    expect(await segments.create(1, 3, 'a\nb\nc\n')).toBe('exists');
    expect(seen).toHaveLength(2);
    expect(seen.every((s) => s.headers['if-none-match'] === '*')).toBe(true);
  });

  it('stops after the client’s 3 attempts when S3 keeps answering SlowDown, with a typed error', async () => {
    const { handler, seen } = scriptedHandler([slowDown]);
    const segments = new S3AuditSegments({
      client: new S3Client({ ...OFFLINE, forcePathStyle: true, requestHandler: handler }),
      bucket: 'audit',
    });
    await expect(segments.create(1, 1, 'x\n')).rejects.toThrow(/could not be written \(SlowDown\)/);
    expect(seen).toHaveLength(3);
  });
});
