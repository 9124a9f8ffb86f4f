import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshCaKeyType } from '../../../lambdas/engines/ssh/ssh-records.ts';
import { startSshd } from '../../support/sshd.ts';
import { scratch, sshFixture, userKey } from '../../unit/engines/ssh/fixtures.ts';

/**
 * The SSH engine against a real OpenSSH server (Debian's sshd on a free loopback port), trusting the engine's CA and
 * reading its revoked-keys list: what a host configured as docs/ssh.md says accepts and refuses.
 */
const files = scratch();
afterAll(() => files.cleanup());

async function setup(keyType: SshCaKeyType, keyName = `user-${keyType}`) {
  const f = sshFixture();
  const ca = await f.ssh.createCa(keyType);
  await f.ssh.putRole('dev', {
    key_type: 'ca',
    allowed_users: ['dev-*'],
    default_user: 'dev-alice',
    ttl: 600,
    max_ttl: 3600,
  });
  const sshd = await startSshd({ trustedUserCaKey: ca.publicKey, principals: ['dev-alice'] });
  const key = userKey(files.dir, keyName);
  const sign = async (request: Record<string, unknown> = {}) => {
    const { lease, credential } = await f.leases.issue({
      kind: 'ssh',
      action: 'sign',
      role: 'dev',
      principalId: 'accessor-1',
      request: { public_key: key.publicKey, key_id: 'coffer:alice:accessor-1', ...request },
    });
    if (credential.type !== 'certificate') throw new Error('not a certificate');
    return { lease, certificate: credential.signedKey };
  };
  return { ...f, sshd, key, sign };
}

describe.each(['ed25519', 'ec-p256', 'rsa-3072'] as const)('sshd trusting a %s CA', (keyType) => {
  let s: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    s = await setup(keyType);
  });
  afterAll(() => s.sshd.stop());

  it('lets in a fresh certificate for an authorised principal', async () => {
    const { certificate } = await s.sign();
    const login = await s.sshd.login(s.key.privateKeyFile, certificate);
    expect(login.ok, login.output).toBe(true);
  });

  it('refuses a certificate whose principal the account does not accept', async () => {
    const { certificate } = await s.sign({ valid_principals: ['dev-bob'] });
    const login = await s.sshd.login(s.key.privateKeyFile, certificate);
    expect(login.ok, login.output).toBe(false);
  });

  it('refuses an expired certificate', async () => {
    // Signed two hours ago (the engine's clock, not a sleep), valid ten minutes.
    s.clock.advance(-2 * 3_600_000);
    const { certificate } = await s.sign();
    s.clock.advance(2 * 3_600_000);
    const login = await s.sshd.login(s.key.privateKeyFile, certificate);
    expect(login.ok, login.output).toBe(false);
    expect(login.output).toMatch(/expired|not yet valid|Permission denied/);
  });

  it("refuses a certificate once its lease is revoked and the host has Coffer's revoked-keys list", async () => {
    const { lease, certificate } = await s.sign();
    expect((await s.sshd.login(s.key.privateKeyFile, certificate)).ok).toBe(true);
    await s.leases.revoke(lease.leaseId);
    s.sshd.setRevokedKeys(await s.ssh.revokedKeys());
    const login = await s.sshd.login(s.key.privateKeyFile, certificate);
    expect(login.ok, login.output).toBe(false);
    expect(login.output).toMatch(/revoked|Permission denied/);
    s.sshd.setRevokedKeys('');
  });
});

describe('sshd trusting another CA', () => {
  it("refuses a certificate Coffer's CA signed", async () => {
    const s = await setup('ed25519', 'user-foreign');
    const other = sshFixture();
    const otherCa = await other.ssh.createCa('ed25519');
    s.sshd.setRevokedKeys('');
    const { certificate } = await s.sign();
    const foreign = await startSshd({ trustedUserCaKey: otherCa.publicKey, principals: ['dev-alice'] });
    try {
      const login = await foreign.login(s.key.privateKeyFile, certificate);
      expect(login.ok, login.output).toBe(false);
    } finally {
      await foreign.stop();
      await s.sshd.stop();
    }
  });
});
