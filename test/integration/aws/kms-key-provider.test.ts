import { CreateKeyCommand, DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { KmsKeyProvider } from '../../../lambdas/adapters/aws/kms-key-provider/kms-key-provider.ts';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { CachingKeyProvider } from '../../../lambdas/core/crypto/data-key-cache.ts';
import { DecryptionFailureError } from '../../../lambdas/core/errors.ts';
import type { EncryptionContext } from '../../../lambdas/core/ports/key-provider.ts';
import { SecretService } from '../../../lambdas/core/secrets/secret-service.ts';
import { describeKeyProviderContract } from '../../contract/key-provider.contract.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';

const context: EncryptionContext = {
  secretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-AbCdEf',
  versionId: '9f3c1a52-4b7e-4d0e-8f6a-2c1d5e7b9a10',
};

const clock = { now: () => Date.UTC(2026, 0, 1) };

/** A client that can only reach the emulator, and the names of the commands it sent. */
function emulatorClient(): { client: KMSClient; commands: string[] } {
  const client = new KMSClient(awsEmulator());
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, handlerContext) => (args) => {
      commands.push(handlerContext.commandName ?? '');
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return { client, commands };
}

/** A fresh symmetric encryption key in the emulator; its ARN. */
async function createKey(client: KMSClient): Promise<string> {
  const created = await client.send(
    new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Description: 'coffer test' }),
  );
  return created.KeyMetadata!.Arn!;
}

describeKeyProviderContract('KmsKeyProvider (emulator)', async () => {
  const { client } = emulatorClient();
  const provider = new KmsKeyProvider({ client, keyId: await createKey(client) });
  return { provider, cleanup: async () => client.destroy() };
});

describe('Class: KmsKeyProvider (emulator)', () => {
  let client: KMSClient;
  let commands: string[];
  let keyArn: string;
  let otherKeyArn: string;

  beforeAll(async () => {
    ({ client, commands } = emulatorClient());
    keyArn = await createKey(client);
    otherKeyArn = await createKey(client);
    return () => client.destroy();
  });

  it('fails to decrypt under a wrong encryption context, while KMS itself refuses it', async () => {
    const provider = new KmsKeyProvider({ client, keyId: keyArn });
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    expect((await provider.unwrapDataKey(wrapped, context)).equals(plaintext)).toBe(true);

    await expect(provider.unwrapDataKey(wrapped, { ...context, versionId: 'another-version' })).rejects.toBeInstanceOf(
      DecryptionFailureError,
    );
    // The refusal is the emulator's (encryption context as authenticated data), not a check in the adapter: the same
    // blob sent straight to KMS with the wrong context is rejected, and with the right one it opens.
    const blob = Buffer.from(wrapped.split('.')[2]!, 'base64url');
    await expect(
      client.send(
        new DecryptCommand({
          CiphertextBlob: blob,
          KeyId: keyArn,
          EncryptionContext: { ...context, secretId: `${context.secretId}x` },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    const direct = await client.send(
      new DecryptCommand({ CiphertextBlob: blob, KeyId: keyArn, EncryptionContext: { ...context } }),
    );
    expect(Buffer.from(direct.Plaintext!).equals(plaintext)).toBe(true);
  });

  it('refuses a data key wrapped under another KMS key, without asking KMS', async () => {
    const other = new KmsKeyProvider({ client, keyId: otherKeyArn });
    const provider = new KmsKeyProvider({ client, keyId: keyArn });
    const { wrapped } = await other.generateDataKey(context);
    const sent = commands.length;

    await expect(provider.unwrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
    await expect(provider.rewrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
    expect(commands.slice(sent)).toEqual([]);
    expect(provider.isCurrent(wrapped)).toBe(false);
  });

  it('refuses a blob of another KMS key relabelled with the configured key, because Decrypt is pinned', async () => {
    const other = new KmsKeyProvider({ client, keyId: otherKeyArn });
    const provider = new KmsKeyProvider({ client, keyId: keyArn });
    const { wrapped: foreign } = await other.generateDataKey(context);
    const { wrapped: own } = await provider.generateDataKey(context);
    const relabelled = [...own.split('.').slice(0, 2), foreign.split('.')[2]].join('.');
    const sent = commands.length;

    await expect(provider.unwrapDataKey(relabelled, context)).rejects.toBeInstanceOf(DecryptionFailureError);
    expect(commands.slice(sent)).toEqual(['DecryptCommand']);
  });

  it('unwraps and re-wraps onto the current key a data key of a previous key', async () => {
    const before = new KmsKeyProvider({ client, keyId: otherKeyArn });
    const { plaintext, wrapped } = await before.generateDataKey(context);
    const provider = new KmsKeyProvider({ client, keyId: keyArn, previousKeyIds: [otherKeyArn] });
    expect(provider.isCurrent(wrapped)).toBe(false);
    expect((await provider.unwrapDataKey(wrapped, context)).equals(plaintext)).toBe(true);

    const rewrapped = await provider.rewrapDataKey(wrapped, context);
    expect(provider.isCurrent(rewrapped)).toBe(true);
    expect(
      (await new KmsKeyProvider({ client, keyId: keyArn }).unwrapDataKey(rewrapped, context)).equals(plaintext),
    ).toBe(true);
    // Now under the new key: the old key alone no longer opens it.
    await expect(before.unwrapDataKey(rewrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
  });

  it('round-trips secrets through SecretService, and serves hot reads without calling Decrypt again', async () => {
    const store = new MemoryStore();
    const writer = new SecretService({
      store,
      keyProvider: new CachingKeyProvider(new KmsKeyProvider({ client, keyId: keyArn }), { clock }),
      clock,
      region: 'us-east-1',
    });
    await writer.create({ name: 'prod/db', value: { kind: 'string', string: 'hunter2' } });
    await writer.put({ secretId: 'prod/db', value: { kind: 'binary', binary: Buffer.from([0, 1, 2, 255]) } });

    // A second service over the same store with a cold cache: a new Lambda instance reading what the first wrote.
    const cache = new CachingKeyProvider(new KmsKeyProvider({ client, keyId: keyArn }), { clock });
    const reader = new SecretService({ store, keyProvider: cache, clock, region: 'us-east-1' });
    const sent = commands.length;
    const first = await reader.get({ secretId: 'prod/db' });
    expect(first.value).toEqual({ kind: 'binary', binary: Buffer.from([0, 1, 2, 255]) });
    expect(commands.slice(sent)).toEqual(['DecryptCommand']);

    for (let i = 0; i < 5; i++) {
      expect((await reader.get({ secretId: 'prod/db' })).value).toEqual(first.value);
    }
    expect(commands.slice(sent)).toEqual(['DecryptCommand']);
    expect(cache.stats()).toMatchObject({ hits: 5, misses: 1 });

    const previous = await reader.get({ secretId: 'prod/db', versionStage: 'AWSPREVIOUS' });
    expect(previous.value).toEqual({ kind: 'string', string: 'hunter2' });
    expect(commands.slice(sent)).toEqual(['DecryptCommand', 'DecryptCommand']);
  });
});
