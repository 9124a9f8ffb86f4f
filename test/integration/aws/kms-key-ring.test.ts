import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { KmsKeyProvider } from '../../../lambdas/adapters/aws/kms-key-provider/kms-key-provider.ts';
import { KmsKeyRing } from '../../../lambdas/adapters/aws/kms-key-provider/kms-key-ring.ts';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import {
  DecryptionFailureError,
  InvalidRequestError,
  NotFoundError,
  ValidationError,
} from '../../../lambdas/core/errors.ts';
import { SecretService } from '../../../lambdas/core/secrets/secret-service.ts';
import type { VersionRecord } from '../../../lambdas/core/secrets/secret-types.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';

const clock = { now: () => Date.UTC(2026, 0, 1) };

async function createKey(client: KMSClient, alias?: string): Promise<{ arn: string; id: string }> {
  const created = await client.send(
    new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Description: 'coffer test' }),
  );
  const { Arn, KeyId } = created.KeyMetadata!;
  if (alias !== undefined)
    await client.send(new CreateAliasCommand({ AliasName: `alias/${alias}`, TargetKeyId: KeyId }));
  return { arn: Arn!, id: KeyId! };
}

describe('Class: KmsKeyRing (emulator)', () => {
  let client: KMSClient;
  let keys: KmsKeyRing;
  let account: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    client = new KMSClient(awsEmulator());
    const probe = await createKey(client);
    account = probe.arn.split(':')[4]!;
    keys = new KmsKeyRing({ client, account });
    return () => client.destroy();
  });

  it('resolves a key by alias, alias ARN, key id and key ARN to its key ARN', async () => {
    const key = await createKey(client, `payments-${suffix}`);
    const region = key.arn.split(':')[3]!;
    for (const given of [
      `alias/payments-${suffix}`,
      `arn:aws:kms:${region}:${account}:alias/payments-${suffix}`,
      key.id,
      key.arn,
    ]) {
      const resolved = await keys.resolve(given);
      expect(resolved.arn).toBe(key.arn);
      expect(resolved.keyId).toBe(key.id);
    }
    expect((await keys.resolve(`alias/payments-${suffix}`)).aliases).toEqual([`payments-${suffix}`]);
  });

  it('answers an unknown alias as missing, a malformed id as invalid, and a disabled key as unusable', async () => {
    await expect(keys.resolve(`alias/missing-${suffix}`)).rejects.toThrow(NotFoundError);
    await expect(keys.resolve('alias/')).rejects.toThrow(ValidationError);
    const disabled = await createKey(client);
    await client.send(new DisableKeyCommand({ KeyId: disabled.id }));
    await expect(keys.resolve(disabled.arn)).rejects.toThrow(InvalidRequestError);
  });

  it('refuses a key of another account, by ARN, before any KMS call', () => {
    expect(() => keys.provider('arn:aws:kms:us-east-1:999999999999:key/00000000-0000-0000-0000-000000000000')).toThrow(
      NotFoundError,
    );
  });

  it('seals secrets under the named CMK, and re-encrypts them onto another', async () => {
    const blue = await createKey(client, `blue-${suffix}`);
    const green = await createKey(client, `green-${suffix}`);
    const store = new MemoryStore();
    const defaultKey = await createKey(client);
    const secrets = new SecretService({
      store,
      keyProvider: new KmsKeyProvider({ client, keyId: defaultKey.arn }),
      keyRing: keys,
      clock,
      writeRate: 'unlimited',
    });
    const { arn, versionId } = await secrets.create({
      name: 'db',
      value: { kind: 'string', string: 'hunter2' },
      kmsKeyId: (await keys.resolve(`alias/blue-${suffix}`)).arn,
    });
    const stored = async () => (await store.get<VersionRecord>(`secret-versions#${arn}`, versionId!))!.data;
    expect((await stored()).kmsKeyId).toBe(blue.arn);
    // The data key is KMS's, under the blue key: the default key cannot open it.
    await expect(
      new KmsKeyProvider({ client, keyId: defaultKey.arn }).unwrapDataKey((await stored()).wrappedKey, {
        secretId: arn,
        versionId: versionId!,
      }),
    ).rejects.toThrow(DecryptionFailureError);
    await secrets.updateSecret({ secretId: 'db', kmsKeyId: green.arn, reencrypt: true });
    expect((await stored()).kmsKeyId).toBe(green.arn);
    expect((await secrets.get({ secretId: 'db' })).value).toEqual({ kind: 'string', string: 'hunter2' });
    expect((await secrets.describe({ secretId: 'db' })).kmsKeyId).toBe(green.arn);
  });
});
