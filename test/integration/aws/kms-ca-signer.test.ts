import { createPublicKey, verify } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { KmsCaKeyStore } from '../../../lambdas/adapters/aws/kms-ca-signer/kms-ca-key-store.ts';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { PkiService } from '../../../lambdas/engines/pki/pki-service.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';
import { openssl, scratch } from '../../unit/engines/pki/fixtures.ts';

const DAY = 86_400;

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

describe('KmsCaKeyStore against the emulator', () => {
  const files = scratch();
  afterAll(() => files.cleanup());

  it.each([
    ['ec-p256', 'rsa-2048'],
    ['ec-p384', 'ec-p256'],
  ] as const)(
    'signs a root (%s) and intermediate (%s) through KMS Sign; openssl verifies the chain and the CRL',
    async (rootType, interType) => {
      const { client, commands } = emulatorClient();
      const caKeys = new KmsCaKeyStore({ client, tags: { 'coffer:deployment': 'test' } });
      const pki = new PkiService({
        store: new MemoryStore(),
        keyProvider: new FakeKeyProvider(),
        caKeys,
        clock: { now: () => Date.now() },
        publicUrl: 'https://coffer.example.test',
      });
      const root = await pki.generateRoot({ common_name: 'KMS Root', key_type: rootType, ttl: 365 * DAY });
      const inter = await pki.generateIntermediate({
        common_name: 'KMS Intermediate',
        key_type: interType,
        sign_with_root: true,
        ttl: 180 * DAY,
      });
      await pki.putRole('svc', { allowed_domains: ['svc.internal'], allow_subdomains: true });
      const leaf = await pki.issue('svc', { common_name: 'api.svc.internal' });
      expect(commands.filter((c) => c === 'CreateKeyCommand')).toHaveLength(2);
      // root cert, intermediate CSR, intermediate cert, leaf cert: every signature is a KMS Sign call.
      expect(commands.filter((c) => c === 'SignCommand').length).toBeGreaterThanOrEqual(4);

      const rootFile = files.write(`root-${rootType}.pem`, root.certificate);
      const interFile = files.write(`inter-${interType}.pem`, inter.certificate!);
      const leafFile = files.write(`leaf-${rootType}.pem`, leaf.certificate);
      const ok = openssl(['verify', '-CAfile', rootFile, '-untrusted', interFile, leafFile]);
      expect(ok.output).toContain(': OK');

      await pki.revoke(leaf.serial_number);
      const crlFile = files.write(`crl-${rootType}.pem`, (await pki.crl()).crl);
      const refused = openssl([
        'verify',
        '-crl_check',
        '-CAfile',
        rootFile,
        '-untrusted',
        interFile,
        '-CRLfile',
        crlFile,
        leafFile,
      ]);
      expect(refused.output).toContain('certificate revoked');
    },
  );

  it('signs with the KMS key: the signature verifies under the public key GetPublicKey returns', async () => {
    const { client, commands } = emulatorClient();
    const caKeys = new KmsCaKeyStore({ client });
    const signer = await caKeys.create('ec-p256', 'probe');
    const data = Buffer.from('to be signed');
    const signature = await signer.sign(data);
    const publicKey = createPublicKey({ key: Buffer.from(signer.spki), format: 'der', type: 'spki' });
    expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    expect(commands).toContain('SignCommand');
    const reopened = await caKeys.open(signer.keyRef, 'ec-p256');
    expect(Buffer.from(reopened.spki).equals(Buffer.from(signer.spki))).toBe(true);
  });

  it('refuses to open a key of another type, and reports a missing key as not found', async () => {
    const { client } = emulatorClient();
    const caKeys = new KmsCaKeyStore({ client });
    const signer = await caKeys.create('ec-p256', 'probe');
    await expect(caKeys.open(signer.keyRef, 'rsa-2048')).rejects.toThrow(/not a RSA_2048 SIGN_VERIFY key/);
    await expect(
      caKeys.open('arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000', 'ec-p256'),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});
