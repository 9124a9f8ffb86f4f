import { createHash } from 'node:crypto';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient, NotFoundException, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { KmsCaKeyStore } from '../../../../../lambdas/adapters/aws/kms-ca-signer/kms-ca-key-store.ts';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const kms = mockClient(KMSClient);
afterEach(() => kms.reset());

describe('Class: KmsCaKeyStore', () => {
  it('creates a SIGN_VERIFY key of the matching KeySpec, tagged, and signs RAW messages up to 4096 bytes', async () => {
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: ARN } });
    kms
      .on(GetPublicKeyCommand)
      .resolves({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY', PublicKey: new Uint8Array([1, 2]) });
    kms.on(SignCommand).resolves({ Signature: new Uint8Array([9]) });
    const store = new KmsCaKeyStore({ client: new KMSClient({ region: 'eu-west-1' }), tags: { env: 'test' } });
    const signer = await store.create('ec-p384', 'root');
    expect(signer.keyRef).toBe(ARN);
    expect(kms.commandCalls(CreateKeyCommand)[0]!.args[0].input).toMatchObject({
      KeySpec: 'ECC_NIST_P384',
      KeyUsage: 'SIGN_VERIFY',
      Tags: [
        { TagKey: 'env', TagValue: 'test' },
        { TagKey: 'coffer:pki-ca', TagValue: 'root' },
      ],
    });
    await signer.sign(new Uint8Array(4096));
    expect(kms.commandCalls(SignCommand)[0]!.args[0].input).toMatchObject({
      KeyId: ARN,
      MessageType: 'RAW',
      SigningAlgorithm: 'ECDSA_SHA_384',
    });
  });

  it('sends a locally computed DIGEST for messages over 4096 bytes', async () => {
    kms
      .on(GetPublicKeyCommand)
      .resolves({ KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY', PublicKey: new Uint8Array([1]) });
    kms.on(SignCommand).resolves({ Signature: new Uint8Array([9]) });
    const signer = await new KmsCaKeyStore({ client: new KMSClient({ region: 'eu-west-1' }) }).open(ARN, 'rsa-3072');
    const big = new Uint8Array(5000).fill(7);
    await signer.sign(big);
    const input = kms.commandCalls(SignCommand)[0]!.args[0].input;
    expect(input.MessageType).toBe('DIGEST');
    expect(input.SigningAlgorithm).toBe('RSASSA_PKCS1_V1_5_SHA_256');
    expect(Buffer.from(input.Message!)).toEqual(createHash('sha256').update(big).digest());
  });

  it('maps a missing key to NotFoundError and other failures to InternalError without details', async () => {
    kms.on(GetPublicKeyCommand).rejects(new NotFoundException({ message: 'gone', $metadata: {} }));
    const store = new KmsCaKeyStore({ client: new KMSClient({ region: 'eu-west-1' }) });
    await expect(store.open(ARN, 'ec-p256')).rejects.toMatchObject({ code: 'not_found' });
    kms.reset();
    kms.on(CreateKeyCommand).rejects(new Error('boom'));
    await expect(store.create('ec-p256', 'root')).rejects.toMatchObject({ code: 'internal' });
  });
});
