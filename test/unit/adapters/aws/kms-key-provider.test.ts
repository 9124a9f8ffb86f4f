import {
  DecryptCommand,
  DependencyTimeoutException,
  DisabledException,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsKeyProvider } from '../../../../lambdas/adapters/aws/kms-key-provider/kms-key-provider.ts';
import {
  type CofferError,
  DecryptionFailureError,
  DependencyUnavailableError,
  InternalError,
  ValidationError,
} from '../../../../lambdas/core/errors.ts';
import type { EncryptionContext } from '../../../../lambdas/core/ports/key-provider.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OLD_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321';
const context: EncryptionContext = {
  secretId: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf',
  versionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
};
const BLOB = Buffer.from('an opaque KMS ciphertext blob, as far as we are concerned');

/** The wrapped form the provider writes; spelled out here so a format change is a deliberate test change. */
function wrappedOf(keyArn: string, blob: Buffer): string {
  return `kms1.${Buffer.from(keyArn).toString('base64url')}.${blob.toString('base64url')}`;
}

function dataKey(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

function awsError<T extends KMSServiceException>(Type: new (options: { message: string; $metadata: object }) => T): T {
  return new Type({ message: 'refused by the mock', $metadata: {} });
}

/** Errors KMS returns that the SDK has no class for (AccessDenied, Throttling): a KMSServiceException by name. */
function unmodelled(name: string): KMSServiceException {
  return new KMSServiceException({ name, $fault: 'client', message: 'refused by the mock', $metadata: {} });
}

async function captureError(promise: Promise<unknown>): Promise<CofferError> {
  try {
    await promise;
  } catch (err) {
    return err as CofferError;
  }
  throw new Error('expected the promise to reject');
}

describe('Class: KmsKeyProvider', () => {
  // Dummy credentials and a mocked send: nothing here can reach AWS.
  const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const kms = mockClient(client);
  let provider: KmsKeyProvider;

  beforeEach(() => {
    kms.reset();
    provider = new KmsKeyProvider({ client, keyId: KEY_ARN });
  });

  afterEach(() => {
    kms.reset();
  });

  describe('constructor', () => {
    it.each([
      ['an alias', 'alias/coffer/envelope'],
      ['an alias ARN', 'arn:aws:kms:eu-west-1:111122223333:alias/coffer/envelope'],
      ['a bare key id', '1234abcd-12ab-34cd-56ef-1234567890ab'],
      ['an empty string', ''],
    ])('refuses %s as the key id', (_, keyId) => {
      expect(() => new KmsKeyProvider({ client, keyId })).toThrow(ValidationError);
    });

    it('refuses a previous key id that is not a key ARN', () => {
      expect(() => new KmsKeyProvider({ client, keyId: KEY_ARN, previousKeyIds: ['alias/old'] })).toThrow(
        ValidationError,
      );
    });

    it('accepts key ARNs of other partitions and multi-Region keys', () => {
      for (const keyId of [
        'arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        'arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab',
      ]) {
        expect(new KmsKeyProvider({ client, keyId }).describe().keyId).toBe(keyId);
      }
    });
  });

  it('describes itself as aws-kms with the configured key ARN', () => {
    expect(provider.describe()).toEqual({ provider: 'aws-kms', keyId: KEY_ARN });
  });

  describe('generateDataKey', () => {
    it('asks KMS for an AES-256 data key under the configured key and the encryption context', async () => {
      kms.on(GenerateDataKeyCommand).resolves({ Plaintext: dataKey(7), CiphertextBlob: BLOB, KeyId: KEY_ARN });
      await provider.generateDataKey(context);
      const calls = kms.commandCalls(GenerateDataKeyCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input).toEqual({ KeyId: KEY_ARN, KeySpec: 'AES_256', EncryptionContext: context });
    });

    it('returns a copy of the plaintext, zeroes the SDK array, and wraps the blob with the key ARN', async () => {
      const sdkPlaintext = dataKey(7);
      kms.on(GenerateDataKeyCommand).resolves({ Plaintext: sdkPlaintext, CiphertextBlob: BLOB, KeyId: KEY_ARN });
      const generated = await provider.generateDataKey(context);
      expect(generated.plaintext).toEqual(Buffer.alloc(32, 7));
      expect(sdkPlaintext.every((byte) => byte === 0)).toBe(true);
      expect(generated.wrapped).toBe(wrappedOf(KEY_ARN, BLOB));
      expect(provider.isCurrent(generated.wrapped)).toBe(true);
    });

    it('refuses a data key of the wrong length, zeroing what KMS returned', async () => {
      const sdkPlaintext = new Uint8Array(16).fill(7);
      kms.on(GenerateDataKeyCommand).resolves({ Plaintext: sdkPlaintext, CiphertextBlob: BLOB });
      await expect(provider.generateDataKey(context)).rejects.toBeInstanceOf(InternalError);
      expect(sdkPlaintext.every((byte) => byte === 0)).toBe(true);
    });

    it('refuses a response without plaintext or without ciphertext', async () => {
      const sdkPlaintext = dataKey(7);
      kms.on(GenerateDataKeyCommand).resolvesOnce({ CiphertextBlob: BLOB }).resolvesOnce({ Plaintext: sdkPlaintext });
      await expect(provider.generateDataKey(context)).rejects.toBeInstanceOf(InternalError);
      await expect(provider.generateDataKey(context)).rejects.toBeInstanceOf(InternalError);
      expect(sdkPlaintext.every((byte) => byte === 0)).toBe(true);
    });

    it.each([
      ['AccessDeniedException', unmodelled('AccessDeniedException'), /IAM grant/],
      ['DisabledException', awsError(DisabledException), /disabled/],
      ['NotFoundException', awsError(NotFoundException), /does not exist/],
    ])('maps %s, which no retry changes, to an InternalError that keeps the cause', async (_, error, message) => {
      kms.on(GenerateDataKeyCommand).rejects(error);
      const err = await captureError(provider.generateDataKey(context));
      expect(err).toBeInstanceOf(InternalError);
      expect(err.message).toMatch(message);
      expect(err.cause).toBe(error);
    });

    it.each([
      ['ThrottlingException', unmodelled('ThrottlingException')],
      ['KMSInternalException', awsError(KMSInternalException)],
      ['DependencyTimeoutException', awsError(DependencyTimeoutException)],
      ['a network failure', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ])('maps %s past the client’s retries to DependencyUnavailableError (503, come back later)', async (_, error) => {
      kms.on(GenerateDataKeyCommand).rejects(error);
      const err = await captureError(provider.generateDataKey(context));
      expect(err).toBeInstanceOf(DependencyUnavailableError);
      expect(err.code).toBe('dependency_unavailable');
      expect(err.details).toEqual({ dependency: 'KMS' });
      expect(err.message).toContain(`KMS GenerateDataKey is unavailable (${error.name})`);
      expect(err.cause).toBe(error);
    });
  });

  describe('unwrapDataKey', () => {
    it('sends the blob to Decrypt with the key pinned and the encryption context', async () => {
      kms.on(DecryptCommand).resolves({ Plaintext: dataKey(9), KeyId: KEY_ARN });
      await provider.unwrapDataKey(wrappedOf(KEY_ARN, BLOB), context);
      const calls = kms.commandCalls(DecryptCommand);
      expect(calls).toHaveLength(1);
      const input = calls[0]!.args[0].input;
      expect(input.KeyId).toBe(KEY_ARN);
      expect(input.EncryptionContext).toEqual(context);
      expect(Buffer.from(input.CiphertextBlob!).equals(BLOB)).toBe(true);
    });

    it('returns a copy of the plaintext and zeroes the SDK array', async () => {
      const sdkPlaintext = dataKey(9);
      kms.on(DecryptCommand).resolves({ Plaintext: sdkPlaintext, KeyId: KEY_ARN });
      const key = await provider.unwrapDataKey(wrappedOf(KEY_ARN, BLOB), context);
      expect(key).toEqual(Buffer.alloc(32, 9));
      expect(sdkPlaintext.every((byte) => byte === 0)).toBe(true);
    });

    it('refuses a plaintext KMS reports under another key than the pinned one, zeroing it', async () => {
      const sdkPlaintext = dataKey(9);
      kms.on(DecryptCommand).resolves({ Plaintext: sdkPlaintext, KeyId: OLD_KEY_ARN });
      await expect(provider.unwrapDataKey(wrappedOf(KEY_ARN, BLOB), context)).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
      expect(sdkPlaintext.every((byte) => byte === 0)).toBe(true);
    });

    it('refuses a data key of another KMS key without calling KMS', async () => {
      await expect(provider.unwrapDataKey(wrappedOf(OLD_KEY_ARN, BLOB), context)).rejects.toBeInstanceOf(
        DecryptionFailureError,
      );
      expect(kms.calls()).toHaveLength(0);
    });

    it('unwraps a data key of a previous key, pinning Decrypt to that key', async () => {
      const migrating = new KmsKeyProvider({ client, keyId: KEY_ARN, previousKeyIds: [OLD_KEY_ARN] });
      kms.on(DecryptCommand).resolves({ Plaintext: dataKey(9), KeyId: OLD_KEY_ARN });
      const wrapped = wrappedOf(OLD_KEY_ARN, BLOB);
      expect(await migrating.unwrapDataKey(wrapped, context)).toEqual(Buffer.alloc(32, 9));
      expect(kms.commandCalls(DecryptCommand)[0]!.args[0].input.KeyId).toBe(OLD_KEY_ARN);
      expect(migrating.isCurrent(wrapped)).toBe(false);
    });

    it.each([
      ['InvalidCiphertextException', awsError(InvalidCiphertextException)],
      ['IncorrectKeyException', awsError(IncorrectKeyException)],
      ['AccessDeniedException', unmodelled('AccessDeniedException')],
    ])('maps %s to DecryptionFailureError, keeping the cause but no key material', async (name, error) => {
      kms.on(DecryptCommand).rejects(error);
      const wrapped = wrappedOf(KEY_ARN, BLOB);
      const err = await captureError(provider.unwrapDataKey(wrapped, context));
      expect(err).toBeInstanceOf(DecryptionFailureError);
      expect(err.cause).toBe(error);
      expect(err.message).toContain(name);
      for (const text of [wrapped, BLOB.toString('base64'), BLOB.toString('base64url'), BLOB.toString('hex')]) {
        expect(err.message).not.toContain(text);
      }
    });

    it.each([
      ['KMSInvalidStateException', awsError(KMSInvalidStateException), /pending deletion/],
      ['DisabledException', awsError(DisabledException), /disabled/],
    ])('maps %s to an InternalError that keeps the cause', async (_, error, message) => {
      kms.on(DecryptCommand).rejects(error);
      const err = await captureError(provider.unwrapDataKey(wrappedOf(KEY_ARN, BLOB), context));
      expect(err).toBeInstanceOf(InternalError);
      expect(err.message).toMatch(message);
      expect(err.cause).toBe(error);
    });

    it.each([
      ['ThrottlingException', unmodelled('ThrottlingException')],
      ['KMSInternalException', awsError(KMSInternalException)],
      ['a network failure', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ])('maps %s to DependencyUnavailableError that keeps the cause', async (_, error) => {
      kms.on(DecryptCommand).rejects(error);
      const err = await captureError(provider.unwrapDataKey(wrappedOf(KEY_ARN, BLOB), context));
      expect(err).toBeInstanceOf(DependencyUnavailableError);
      expect(err.message).toContain('KMS Decrypt is unavailable');
      expect(err.cause).toBe(error);
    });
  });

  describe('wrapped-form parsing', () => {
    const arnPart = Buffer.from(KEY_ARN).toString('base64url');
    const blobPart = BLOB.toString('base64url');
    const garbage: [string, string][] = [
      ['empty', ''],
      ['prose', 'not a wrapped key'],
      ['the prefix alone', 'kms1'],
      ['empty parts', 'kms1..'],
      ['no blob', `kms1.${arnPart}.`],
      ['no key', `kms1..${blobPart}`],
      ['another prefix', `ck1.${arnPart}.${blobPart}`],
      ['a future version', `kms2.${arnPart}.${blobPart}`],
      ['an extra part', `kms1.${arnPart}.${blobPart}.${blobPart}`],
      ['standard base64 characters', `kms1.${arnPart}.${BLOB.toString('base64')}+/`],
      ['padding', `kms1.${arnPart}.${blobPart}==`],
      ['a non-canonical spelling', `kms1.${arnPart}.AB`],
      ['whitespace', `kms1.${arnPart}.${blobPart} `],
      ['an alias in place of the key', `kms1.${Buffer.from('alias/coffer').toString('base64url')}.${blobPart}`],
      ['a blob longer than KMS makes', `kms1.${arnPart}.${Buffer.alloc(6145, 1).toString('base64url')}`],
    ];

    it.each(garbage)('rejects %s with DecryptionFailureError without calling KMS', async (_, wrapped) => {
      await expect(provider.unwrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      await expect(provider.rewrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      expect(provider.isCurrent(wrapped)).toBe(false);
      expect(kms.calls()).toHaveLength(0);
    });

    it('rejects any string that is not a well-formed wrapped key, and never throws from isCurrent', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string(), async (wrapped) => {
          expect(provider.isCurrent(wrapped)).toBe(false);
          await expect(provider.unwrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
        }),
      );
      expect(kms.calls()).toHaveLength(0);
    });
  });

  describe('rewrapDataKey', () => {
    it('re-encrypts inside KMS onto the configured key, with the same source and destination context', async () => {
      const migrating = new KmsKeyProvider({ client, keyId: KEY_ARN, previousKeyIds: [OLD_KEY_ARN] });
      const newBlob = Buffer.from('the re-encrypted blob');
      kms.on(ReEncryptCommand).resolves({ CiphertextBlob: newBlob, KeyId: KEY_ARN, SourceKeyId: OLD_KEY_ARN });

      const rewrapped = await migrating.rewrapDataKey(wrappedOf(OLD_KEY_ARN, BLOB), context);

      expect(rewrapped).toBe(wrappedOf(KEY_ARN, newBlob));
      expect(migrating.isCurrent(rewrapped)).toBe(true);
      const input = kms.commandCalls(ReEncryptCommand)[0]!.args[0].input;
      expect(input).toMatchObject({
        SourceKeyId: OLD_KEY_ARN,
        DestinationKeyId: KEY_ARN,
        SourceEncryptionContext: context,
        DestinationEncryptionContext: context,
      });
      expect(Buffer.from(input.CiphertextBlob!).equals(BLOB)).toBe(true);
      expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
    });

    it('maps a refused source ciphertext to DecryptionFailureError and a KMS fault to DependencyUnavailableError', async () => {
      const wrapped = wrappedOf(KEY_ARN, BLOB);
      kms
        .on(ReEncryptCommand)
        .rejectsOnce(awsError(InvalidCiphertextException))
        .rejectsOnce(awsError(KMSInternalException))
        .rejectsOnce(awsError(DisabledException));
      await expect(provider.rewrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      await expect(provider.rewrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(provider.rewrapDataKey(wrapped, context)).rejects.toBeInstanceOf(InternalError);
    });

    it('refuses a response without ciphertext', async () => {
      kms.on(ReEncryptCommand).resolves({ KeyId: KEY_ARN });
      await expect(provider.rewrapDataKey(wrappedOf(KEY_ARN, BLOB), context)).rejects.toBeInstanceOf(InternalError);
    });
  });

  describe('isCurrent', () => {
    it('is true only for a data key wrapped under the configured key', () => {
      expect(provider.isCurrent(wrappedOf(KEY_ARN, BLOB))).toBe(true);
      expect(provider.isCurrent(wrappedOf(OLD_KEY_ARN, BLOB))).toBe(false);
      expect(new KmsKeyProvider({ client, keyId: OLD_KEY_ARN }).isCurrent(wrappedOf(KEY_ARN, BLOB))).toBe(false);
    });
  });
});
