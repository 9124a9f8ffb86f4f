import {
  DecryptCommand,
  DescribeKeyCommand,
  DisabledException,
  GenerateDataKeyCommand,
  KMSClient,
  KMSInvalidStateException,
  type KMSServiceException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsKeyRing } from '../../../../lambdas/adapters/aws/kms-key-provider/kms-key-ring.ts';
import {
  DecryptionFailureError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
} from '../../../../lambdas/core/errors.ts';

const ACCOUNT = '111122223333';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${KEY_ID}`;
const context = { secretId: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:db-AbCdEf`, versionId: 'v1' };

function awsError<T extends KMSServiceException>(Type: new (options: { message: string; $metadata: object }) => T): T {
  return new Type({ message: 'refused by the mock', $metadata: {} });
}

describe('Class: KmsKeyRing', () => {
  const kms = mockClient(KMSClient);
  let keys: KmsKeyRing;

  beforeEach(() => {
    kms.reset();
    keys = new KmsKeyRing({ client: new KMSClient({ region: 'eu-west-1' }), account: ACCOUNT });
  });
  afterEach(() => kms.reset());

  const metadata = (overrides: Record<string, unknown> = {}) => ({
    KeyMetadata: {
      KeyId: KEY_ID,
      Arn: KEY_ARN,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      ...overrides,
    },
  });

  it('resolves an alias to the key ARN with DescribeKey, keeping the alias name', async () => {
    kms.on(DescribeKeyCommand, { KeyId: 'alias/payments' }).resolves(metadata() as never);
    expect(await keys.resolve('alias/payments')).toMatchObject({ arn: KEY_ARN, keyId: KEY_ID, aliases: ['payments'] });
  });

  it("passes KMS's words on for an unknown key", async () => {
    kms.on(DescribeKeyCommand).rejects(
      new NotFoundException({
        message: 'Alias arn:aws:kms:eu-west-1:111122223333:alias/x is not found.',
        $metadata: {},
      }),
    );
    await expect(keys.resolve('alias/x')).rejects.toThrow(
      new NotFoundError('Alias arn:aws:kms:eu-west-1:111122223333:alias/x is not found.'),
    );
  });

  it('refuses a disabled key, an asymmetric one, and one of another account', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata({ KeyState: 'Disabled' }) as never);
    await expect(keys.resolve(KEY_ARN)).rejects.toThrow(new InvalidRequestError(`${KEY_ARN} is disabled.`));
    kms.reset();
    kms.on(DescribeKeyCommand).resolves(metadata({ KeyUsage: 'SIGN_VERIFY', KeySpec: 'RSA_2048' }) as never);
    await expect(keys.resolve(KEY_ARN)).rejects.toThrow(InvalidRequestError);
    kms.reset();
    kms.on(DescribeKeyCommand).resolves(metadata({ Arn: KEY_ARN.replace(ACCOUNT, '999999999999') }) as never);
    await expect(keys.resolve(KEY_ID)).rejects.toThrow(NotFoundError);
  });

  it('tells multi-region keys (which a replica region can open) from single-region ones', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata({ MultiRegion: true }) as never);
    expect((await keys.resolve(KEY_ARN)).everyRegion).toBe(true);
    kms.reset();
    kms.on(DescribeKeyCommand).resolves(metadata() as never);
    expect((await keys.resolve(KEY_ARN)).everyRegion).toBe(false);
  });

  it('uses a multi-region key named by another region through its replica here; other keys as named', async () => {
    const west = new KmsKeyRing({
      client: new KMSClient({ region: 'us-west-2' }),
      account: ACCOUNT,
      region: 'us-west-2',
    });
    const mrk = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`;
    kms.on(GenerateDataKeyCommand).resolves({
      Plaintext: new Uint8Array(32),
      CiphertextBlob: new Uint8Array([1, 2, 3]),
      KeyId: mrk,
    } as never);
    await west.provider(mrk).generateDataKey({ secretId: 's', versionId: 'v' });
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.KeyId).toBe(
      mrk.replace(':eu-west-1:', ':us-west-2:'),
    );
    kms.resetHistory();
    await west.provider(KEY_ARN).generateDataKey({ secretId: 's', versionId: 'v' });
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.KeyId).toBe(KEY_ARN);
  });

  it('answers a customer key disabled, pending deletion or deleted after the fact as the caller sees it', async () => {
    const provider = keys.provider(KEY_ARN);
    for (const error of [
      awsError(DisabledException),
      awsError(KMSInvalidStateException),
      awsError(NotFoundException),
    ]) {
      kms.on(GenerateDataKeyCommand).rejects(error);
      await expect(provider.generateDataKey(context)).rejects.toThrow(InvalidRequestError);
      kms.on(DecryptCommand).rejects(error);
      const wrapped = `kms1.${Buffer.from(KEY_ARN).toString('base64url')}.${Buffer.from('blob').toString('base64url')}`;
      await expect(provider.unwrapDataKey(wrapped, context)).rejects.toThrow(DecryptionFailureError);
    }
  });

  it('leaves any other KMS failure a service failure', async () => {
    kms.on(GenerateDataKeyCommand).rejects(new Error('socket hang up'));
    await expect(keys.provider(KEY_ARN).generateDataKey(context)).rejects.toThrow(InternalError);
  });
});
