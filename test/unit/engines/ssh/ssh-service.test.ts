import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../../../lambdas/core/errors.ts';
import { SSH_CA_KEY_TYPES } from '../../../../lambdas/engines/ssh/ssh-records.ts';
import type { SshRoleInput } from '../../../../lambdas/engines/ssh/ssh-role.ts';
import { describeCertificate, scratch, sshFixture, userKey } from './fixtures.ts';

const files = scratch();
afterAll(() => files.cleanup());
const alice = userKey(files.dir, 'alice');

const DEV_ROLE: SshRoleInput = {
  key_type: 'ca',
  allowed_users: ['dev-*'],
  default_user: 'dev-alice',
  allowed_extensions: ['permit-pty', 'permit-port-forwarding'],
  ttl: 600,
  max_ttl: 3600,
};

async function signer(role: SshRoleInput = DEV_ROLE, options: Parameters<typeof sshFixture>[0] = {}) {
  const f = sshFixture(options);
  await f.ssh.createCa('ed25519');
  await f.ssh.putRole('dev', role);
  const sign = (request: Record<string, unknown> = {}, ttlSeconds?: number) =>
    f.leases.issue({
      kind: 'ssh',
      action: 'sign',
      role: 'dev',
      principalId: 'accessor-1',
      ttlSeconds,
      request: { public_key: alice.publicKey, key_id: 'coffer:alice:accessor-1', ...request },
    });
  return { ...f, sign };
}

function certificateOf(credential: { type: string } & Record<string, unknown>): string {
  if (credential.type !== 'certificate') throw new Error('not a certificate');
  return credential.signedKey as string;
}

function fingerprint(publicKey: string): string {
  const file = files.write(`fp-${Math.random().toString(36).slice(2)}.pub`, `${publicKey}\n`);
  return spawnSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' }).stdout.split(' ')[1]!;
}

describe('SshService: the CA', () => {
  it.each(SSH_CA_KEY_TYPES)('signs with a %s CA key, as OpenSSH reads the certificate', async (keyType) => {
    const f = sshFixture();
    const ca = await f.ssh.createCa(keyType);
    expect(ca.keyStore).toBe(keyType === 'ed25519' ? 'engine' : 'local');
    await f.ssh.putRole('dev', DEV_ROLE);
    const { credential } = await f.leases.issue({
      kind: 'ssh',
      action: 'sign',
      role: 'dev',
      principalId: 'p',
      request: { public_key: alice.publicKey, key_id: 'k' },
    });
    const described = describeCertificate(files.dir, certificateOf(credential));
    const algorithm = {
      ed25519: 'ssh-ed25519',
      'ec-p256': 'ecdsa-sha2-nistp256',
      'ec-p384': 'ecdsa-sha2-nistp384',
      // SHA-256, never SHA-1's ssh-rsa, which OpenSSH refuses for certificates.
      'rsa-2048': 'rsa-sha2-256',
      'rsa-3072': 'rsa-sha2-256',
      'rsa-4096': 'rsa-sha2-256',
    }[keyType];
    expect(described).toContain(`${fingerprint(ca.publicKey)} (using ${algorithm})`);
  });

  it('is create-only, and signs nothing once deleted', async () => {
    const f = await signer();
    await expect(f.ssh.createCa('ed25519')).rejects.toBeInstanceOf(AlreadyExistsError);
    await f.ssh.deleteCa();
    await expect(f.sign()).rejects.toBeInstanceOf(NotFoundError);
  });

  it('keeps the Ed25519 key sealed: the stored record holds no PKCS#8 key', async () => {
    const f = await signer();
    const record = await f.store.get<Record<string, unknown>>('ssh#ca', 'current');
    const text = JSON.stringify(record?.data);
    expect(text).not.toContain('PRIVATE KEY');
    expect(record?.data.sealed).toEqual({ wrapped: expect.any(String), blob: expect.any(String) });
  });
});

describe('SshService: signing', () => {
  it('certifies the default user with the default extensions, the key id and the lease TTL', async () => {
    const f = await signer();
    const { lease, credential } = await f.sign();
    const described = describeCertificate(files.dir, certificateOf(credential));
    expect(described).toContain('user certificate');
    expect(described).toContain('Key ID: "coffer:alice:accessor-1"');
    expect(described).toMatch(/Principals: \n\s+dev-alice\n/);
    expect(described).toMatch(/Extensions: \n\s+permit-pty\n/);
    expect(lease.expiresAt - lease.issuedAt).toBe(600_000);
    // Named after the path the caller was authorised at, so `sys/leases/revoke/ssh/sign/dev/…` policies fit.
    expect(lease.leaseId).toMatch(/^ssh\/sign\/dev\/[a-f0-9]{24}$/);
    const [, from, to] = /Valid: from (\S+) to (\S+)/.exec(described)!;
    // Backdated 30 s for hosts whose clock runs behind; ssh-keygen prints local time without a zone.
    expect(new Date(`${to}Z`).getTime() - new Date(`${from}Z`).getTime()).toBe(630_000);
  });

  it('certifies the principals asked for when the role allows every one', async () => {
    const f = await signer();
    const { credential } = await f.sign({ valid_principals: ['dev-bob', 'dev-carol'] });
    expect(describeCertificate(files.dir, certificateOf(credential))).toMatch(
      /Principals: \n\s+dev-bob\n\s+dev-carol\n/,
    );
  });

  it('refuses a principal beyond the role, and records no lease', async () => {
    const f = await signer();
    await expect(f.sign({ valid_principals: ['dev-bob', 'root'] })).rejects.toThrow(
      new PermissionDeniedError('role dev does not allow the principal(s) root'),
    );
    expect((await f.leases.list({})).leases).toEqual([]);
  });

  it('refuses to guess principals for a role without a default user', async () => {
    const f = await signer({ ...DEV_ROLE, default_user: undefined });
    await expect(f.sign()).rejects.toBeInstanceOf(ValidationError);
  });

  it('sets extensions and critical options only as the role allows, with its defaults', async () => {
    const f = await signer({
      ...DEV_ROLE,
      default_critical_options: { 'force-command': '/usr/bin/true' },
      allowed_critical_options: ['source-address'],
    });
    const { credential } = await f.sign({
      extensions: { 'permit-port-forwarding': '' },
      critical_options: { 'source-address': '127.0.0.1/32' },
    });
    const described = describeCertificate(files.dir, certificateOf(credential));
    expect(described).toMatch(
      /Critical Options: \n\s+force-command \/usr\/bin\/true\n\s+source-address 127.0.0.1\/32\n/,
    );
    expect(described).toMatch(/Extensions: \n\s+permit-port-forwarding\n/);
    await expect(f.sign({ extensions: { 'permit-X11-forwarding': '' } })).rejects.toBeInstanceOf(PermissionDeniedError);
    // The role's forced command cannot be replaced by one the caller picks.
    await expect(f.sign({ critical_options: { 'force-command': '/bin/sh' } })).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
  });

  it('refuses key types the role does not list, and keys below its minimum size', async () => {
    const f = await signer({ ...DEV_ROLE, allowed_user_key_lengths: { ed25519: 0, rsa: 3072 } });
    const ecdsa = userKey(files.dir, 'ecdsa', ['-t', 'ecdsa', '-b', '256']);
    const rsa = userKey(files.dir, 'rsa2048', ['-t', 'rsa', '-b', '2048']);
    await expect(f.sign({ public_key: ecdsa.publicKey })).rejects.toThrow(
      new PermissionDeniedError('role dev does not accept ecdsa keys'),
    );
    await expect(f.sign({ public_key: rsa.publicKey })).rejects.toThrow(
      new PermissionDeniedError('role dev needs rsa keys of at least 3072 bits, not 2048'),
    );
  });

  it('refuses what is not an OpenSSH public key', async () => {
    const f = await signer();
    await expect(f.sign({ public_key: 'ssh-ed25519 not-base64!' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('caps the TTL asked for at the role maximum', async () => {
    const f = await signer();
    const { lease } = await f.sign({}, 86_400);
    expect(lease.expiresAt - lease.issuedAt).toBe(3_600_000);
  });

  it('never gives two certificates one serial', async () => {
    const draws = [Buffer.from('0000000000000007', 'hex'), Buffer.from('0000000000000007', 'hex')];
    draws.push(Buffer.from('0000000000000009', 'hex'));
    const f = await signer(DEV_ROLE, { randomSerial: () => draws.shift()! });
    const first = await f.sign();
    const second = await f.sign();
    expect(certificateSerial(first.credential)).toBe('7');
    expect(certificateSerial(second.credential)).toBe('9');
    expect(describeCertificate(files.dir, certificateOf(second.credential))).toContain('Serial: 9\n');
  });
});

function certificateSerial(credential: { type: string } & Record<string, unknown>): unknown {
  return credential.serialNumber;
}

describe('SshService: leases of certificates', () => {
  it('lists the key of a revoked certificate until the certificate would have expired', async () => {
    const f = await signer();
    const { lease } = await f.sign();
    expect(await f.ssh.revokedKeys()).toBe('');
    await f.leases.revoke(lease.leaseId);
    expect(await f.ssh.revokedKeys()).toBe(`${alice.publicKey.split(' ').slice(0, 2).join(' ')}\n`);
    f.clock.advance(600_001);
    expect(await f.ssh.revokedKeys()).toBe('');
  });

  it('does not list a certificate whose lease expired: it is refused on its dates', async () => {
    const f = await signer();
    const { lease } = await f.sign();
    f.clock.advance(600_001);
    await f.leases.sweep();
    await expect(f.leases.lookup(lease.leaseId)).rejects.toBeInstanceOf(NotFoundError);
    expect(await f.ssh.revokedKeys()).toBe('');
  });

  it('refuses to renew a certificate: its validity is signed into it', async () => {
    const f = await signer();
    const { lease } = await f.sign();
    await expect(f.leases.renew(lease.leaseId)).rejects.toThrow(InvalidRequestError);
    expect((await f.leases.lookup(lease.leaseId)).expiresAt).toBe(lease.expiresAt);
  });
});

const OTP_ROLE: SshRoleInput = {
  key_type: 'otp',
  default_user: 'deploy',
  allowed_users: ['ops-*'],
  cidr_list: ['10.0.0.0/24', '192.0.2.7'],
  ttl: 300,
  max_ttl: 900,
};

async function otpIssuer() {
  const f = sshFixture();
  await f.ssh.putRole('hosts', OTP_ROLE);
  const issue = async (request: Record<string, unknown>) => {
    const { lease, credential } = await f.leases.issue({ kind: 'ssh', role: 'hosts', principalId: 'p', request });
    if (credential.type !== 'otp') throw new Error('not an OTP');
    return { lease, credential };
  };
  return { ...f, issue };
}

describe('SshService: one-time passwords', () => {
  it('verifies a password once, for the user and host it was issued for', async () => {
    const f = await otpIssuer();
    const { credential } = await f.issue({ ip: '10.0.0.5' });
    expect(credential.username).toBe('deploy');
    await expect(f.ssh.verifyOtp(credential.key)).resolves.toEqual({
      username: 'deploy',
      ip: '10.0.0.5',
      role: 'hosts',
    });
    await expect(f.ssh.verifyOtp(credential.key)).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('never stores the password itself', async () => {
    const f = await otpIssuer();
    const { credential } = await f.issue({ ip: '192.0.2.7', username: 'ops-eve' });
    const stored = JSON.stringify([...(await f.store.query('ssh#otp')).items, ...(await f.store.query('lease')).items]);
    expect(stored).not.toContain(credential.key);
  });

  it('refuses hosts outside the role and users it does not allow', async () => {
    const f = await otpIssuer();
    await expect(f.issue({ ip: '10.0.1.5' })).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(f.issue({ ip: '10.0.0.5', username: 'root' })).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(f.issue({ ip: 'not-an-ip' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('refuses an expired password, and a revoked one', async () => {
    const f = await otpIssuer();
    const expired = await f.issue({ ip: '10.0.0.5' });
    const revoked = await f.issue({ ip: '10.0.0.6' });
    await f.leases.revoke(revoked.lease.leaseId);
    await expect(f.ssh.verifyOtp(revoked.credential.key)).rejects.toBeInstanceOf(InvalidRequestError);
    f.clock.advance(300_001);
    await expect(f.ssh.verifyOtp(expired.credential.key)).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('extends a password with its lease, never beyond the role maximum', async () => {
    const f = await otpIssuer();
    const { lease, credential } = await f.issue({ ip: '10.0.0.5' });
    f.clock.advance(250_000);
    const renewed = await f.leases.renew(lease.leaseId, 3600);
    expect(renewed.capped).toBe(true);
    expect(renewed.expiresAt).toBe(lease.issuedAt + 900_000);
    f.clock.advance(100_000);
    // Past its first expiry, still valid after the renewal.
    await expect(f.ssh.verifyOtp(credential.key)).resolves.toMatchObject({ username: 'deploy' });
  });
});
