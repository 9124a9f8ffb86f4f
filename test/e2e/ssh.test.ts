import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultClockFile } from '../../lambdas/entrypoints/local/fault-clock.ts';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { startSshd, type TestSshd } from '../support/sshd.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { userKey } from '../unit/engines/ssh/fixtures.ts';

/**
 * The SSH engine end to end: the real server and the `coffer` CLI, and a real sshd configured as docs/ssh.md says
 * (TrustedUserCAKeys from /v1/ssh/public_key, RevokedKeys from /v1/ssh/revoked_keys). The node's clock can be moved
 * (COFFER_FAULT_INJECTION) to sign a certificate that is already expired, without waiting.
 */
const current = useServer({ COFFER_FAULT_INJECTION: '1' });
const files = tempDir('coffer-e2e-ssh-');
afterAll(() => files.cleanup());

const cli = (args: string[], token = current().rootToken, input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: token }, input });

async function text(urlPath: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${current().address}${urlPath}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

async function tokenWith(name: string, rules: { path: string; capabilities: string[] }[], ttl = '1h'): Promise<string> {
  const put = await api(current().address, current().rootToken, 'PUT', `/v1/sys/policies/${name}`, { rules });
  expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
  const created = await cli(['token', 'create', '--policy', name, '--ttl', ttl, '-o', 'json']);
  expect(created.code, created.stderr).toBe(0);
  return (JSON.parse(created.stdout) as { token: string }).token;
}

interface Signed {
  leaseId: string;
  signed_key: string;
  serial_number: string;
  expiresAt: string;
  renewable: boolean;
}

let sshd: TestSshd;
let key: { publicKey: string; privateKeyFile: string };
let publicKeyFile: string;

beforeAll(async () => {
  const created = await cli(['ssh', 'ca', 'create', '--key-type', 'ed25519']);
  expect(created.code, created.stderr).toBe(0);
  const role = await cli([
    'ssh',
    'role',
    'put',
    'dev',
    '--allowed-users',
    'dev-*',
    '--default-user',
    'dev-alice',
    '--allowed-extensions',
    'permit-pty',
    '--ttl',
    '10m',
    '--max-ttl',
    '1h',
  ]);
  expect(role.code, role.stderr).toBe(0);
  const published = await text('/v1/ssh/public_key');
  expect(published.status).toBe(200);
  expect(published.body.trim()).toBe(created.stdout.trim());
  sshd = await startSshd({ trustedUserCaKey: published.body, principals: ['dev-alice'] });
  key = userKey(files.dir, 'id_ed25519');
  publicKeyFile = `${key.privateKeyFile}.pub`;
});
afterAll(() => sshd?.stop());

async function sign(args: string[] = [], token?: string): Promise<Signed> {
  const signed = await cli(['ssh', 'sign', 'dev', '--public-key', publicKeyFile, ...args, '-o', 'json'], token);
  expect(signed.code, signed.stderr).toBe(0);
  return JSON.parse(signed.stdout) as Signed;
}

describe('coffer ssh sign, against sshd', () => {
  it('signs a certificate that sshd accepts, written where --cert-out says', async () => {
    const certOut = path.join(files.dir, 'id_ed25519-cert.pub');
    const signed = await cli(['ssh', 'sign', 'dev', '--public-key', publicKeyFile, '--cert-out', certOut]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(/^lease\s+ssh\/sign\/dev\/[a-f0-9]{24}$/m);
    const login = await sshd.login(key.privateKeyFile, readFileSync(certOut, 'utf8'));
    expect(login.ok, login.output).toBe(true);
  });

  it('signs a certificate sshd refuses when the account does not accept its principal', async () => {
    const signed = await sign(['--principals', 'dev-bob']);
    const login = await sshd.login(key.privateKeyFile, signed.signed_key);
    expect(login.ok, login.output).toBe(false);
  });

  it('signs nothing sshd accepts once expired (the node signed it two hours ago)', async () => {
    const offsetFile = faultClockFile(current().dataDir);
    writeFileSync(offsetFile, String(-2 * 3_600_000));
    let signed: Signed;
    try {
      signed = await waitFor(
        'the node to read its clock offset',
        async () => {
          const attempt = await sign();
          return Date.parse(attempt.expiresAt) < Date.now() ? attempt : undefined;
        },
        { intervalMs: 200 },
      );
    } finally {
      rmSync(offsetFile, { force: true });
    }
    const login = await sshd.login(key.privateKeyFile, signed.signed_key);
    expect(login.ok, login.output).toBe(false);
  });

  it('refuses to renew a certificate lease; revoking it lists the key, and sshd then refuses the certificate', async () => {
    const signed = await sign();
    expect(signed.renewable).toBe(false);
    expect((await sshd.login(key.privateKeyFile, signed.signed_key)).ok).toBe(true);
    const renew = await cli(['lease', 'renew', signed.leaseId]);
    expect(renew.code).not.toBe(0);
    expect(renew.stderr).toContain('cannot be renewed; sign a new one');

    const revoke = await cli(['lease', 'revoke', signed.leaseId]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const revoked = await text('/v1/ssh/revoked_keys');
    expect(revoked.status).toBe(200);
    expect(revoked.type).toMatch(/^text\/plain/);
    expect(revoked.body).toBe(`${key.publicKey.split(' ').slice(0, 2).join(' ')}\n`);
    sshd.setRevokedKeys(revoked.body);
    try {
      const login = await sshd.login(key.privateKeyFile, signed.signed_key);
      expect(login.ok, login.output).toBe(false);
    } finally {
      sshd.setRevokedKeys('');
    }
  });
});

describe('authorisation', () => {
  it('lets a narrow token sign only under its role, and only for principals the role allows', async () => {
    const other = await cli(['ssh', 'role', 'put', 'admin', '--allowed-users', '*', '--default-user', 'root']);
    expect(other.code, other.stderr).toBe(0);
    const token = await tokenWith('ssh-dev', [{ path: 'ssh/sign/dev', capabilities: ['update'] }]);

    expect((await sign([], token)).signed_key).toMatch(/^ssh-ed25519-cert-v01@openssh.com /);
    const otherRole = await cli(['ssh', 'sign', 'admin', '--public-key', publicKeyFile], token);
    expect(otherRole.code).not.toBe(0);
    expect(otherRole.stderr).toMatch(/permission_denied/);
    const beyond = await cli(['ssh', 'sign', 'dev', '--public-key', publicKeyFile, '--principals', 'root'], token);
    expect(beyond.code).not.toBe(0);
    expect(beyond.stderr).toContain('role dev does not allow the principal(s) root');
    const ca = await cli(['ssh', 'ca', 'delete'], token);
    expect(ca.code).not.toBe(0);
  });

  it("never signs a certificate that outlives the caller's token", async () => {
    const token = await tokenWith('ssh-dev-short', [{ path: 'ssh/sign/dev', capabilities: ['update'] }], '5m');
    const lookup = await cli(['token', 'lookup', '-o', 'json'], token);
    expect(lookup.code, lookup.stderr).toBe(0);
    const tokenExpiry = Date.parse((JSON.parse(lookup.stdout) as { expiresAt: string }).expiresAt);
    const signed = await sign(['--ttl', '1h'], token);
    expect(Date.parse(signed.expiresAt)).toBeLessThanOrEqual(tokenExpiry);
  });
});

describe('coffer ssh creds and verify (one-time passwords)', () => {
  it('issues a password a helper token verifies once, and never writes it to the audit log', async () => {
    const role = await cli([
      'ssh',
      'role',
      'put',
      'hosts',
      '--key-type',
      'otp',
      '--default-user',
      'deploy',
      '--cidr-list',
      '127.0.0.1/32',
    ]);
    expect(role.code, role.stderr).toBe(0);
    const issued = await cli(['ssh', 'creds', 'hosts', '--ip', '127.0.0.1', '-o', 'json']);
    expect(issued.code, issued.stderr).toBe(0);
    const {
      key: otp,
      username,
      leaseId,
    } = JSON.parse(issued.stdout) as {
      key: string;
      username: string;
      leaseId: string;
    };
    expect(username).toBe('deploy');
    expect(leaseId).toMatch(/^ssh\/creds\/hosts\//);

    const helper = await tokenWith('ssh-helper', [{ path: 'ssh/verify', capabilities: ['update'] }]);
    const verified = await cli(['ssh', 'verify', '-o', 'json'], helper, `${otp}\n`);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toEqual({ username: 'deploy', ip: '127.0.0.1', role_name: 'hosts' });
    const again = await cli(['ssh', 'verify'], helper, otp);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('invalid or expired one-time password');

    const outside = await cli(['ssh', 'creds', 'hosts', '--ip', '10.1.2.3']);
    expect(outside.code).not.toBe(0);
    expect(readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8')).not.toContain(otp);
  });
});
