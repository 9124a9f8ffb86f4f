import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { KmsCaKeyStore } from '../../../lambdas/adapters/aws/kms-ca-signer/kms-ca-key-store.ts';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { LeaseService } from '../../../lambdas/core/leases/lease-service.ts';
import { SshService } from '../../../lambdas/engines/ssh/ssh-service.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';
import { startSshd } from '../../support/sshd.ts';
import { FakeDatabaseProvider, unusedAwsProvider, unusedOAuthProvider } from '../../unit/core/leases/fake-provider.ts';
import { scratch, userKey } from '../../unit/engines/ssh/fixtures.ts';

/**
 * On AWS the SSH CA's ECDSA and RSA keys are KMS keys (the same `CaKeyStore` port as the PKI engine): every
 * certificate is signed by KMS `Sign`, and a real sshd trusting the published key lets the holder in.
 */
const files = scratch();
afterAll(() => files.cleanup());

function engineOverKms() {
  const client = new KMSClient(awsEmulator());
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, handlerContext) => (args) => {
      commands.push(handlerContext.commandName ?? '');
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  const store = new MemoryStore();
  const clock = { now: () => Date.now() };
  const ssh = new SshService({
    store,
    clock,
    caKeys: new KmsCaKeyStore({ client, tags: { 'coffer:deployment': 'test' } }),
    keyProvider: new FakeKeyProvider(),
  });
  const leases = new LeaseService({
    store,
    clock,
    providers: { database: new FakeDatabaseProvider(), aws: unusedAwsProvider, ssh, oauth: unusedOAuthProvider },
  });
  return { ssh, leases, commands };
}

describe('SshService over KMS CA keys', () => {
  it.each(['ec-p256', 'rsa-2048'] as const)('signs with a %s KMS key a certificate sshd accepts', async (keyType) => {
    const { ssh, leases, commands } = engineOverKms();
    const ca = await ssh.createCa(keyType);
    expect(ca.keyStore).toBe('kms');
    expect(ca.keyRef).toMatch(/^arn:aws:kms:/);
    await ssh.putRole('dev', { key_type: 'ca', default_user: 'dev-alice' });
    const key = userKey(files.dir, `kms-${keyType}`);
    const { credential } = await leases.issue({
      kind: 'ssh',
      action: 'sign',
      role: 'dev',
      principalId: 'p',
      request: { public_key: key.publicKey, key_id: 'coffer:test' },
    });
    if (credential.type !== 'certificate') throw new Error('not a certificate');
    expect(commands).toContain('CreateKeyCommand');
    expect(commands).toContain('SignCommand');
    const sshd = await startSshd({ trustedUserCaKey: ca.publicKey, principals: ['dev-alice'] });
    try {
      const login = await sshd.login(key.privateKeyFile, credential.signedKey);
      expect(login.ok, login.output).toBe(true);
    } finally {
      await sshd.stop();
    }
  });

  it('keeps an Ed25519 CA out of KMS (KMS offers no Ed25519 key to the CA key store): sealed by the engine', async () => {
    const { ssh, commands } = engineOverKms();
    const ca = await ssh.createCa('ed25519');
    expect(ca.keyStore).toBe('engine');
    expect(commands).not.toContain('CreateKeyCommand');
  });
});
