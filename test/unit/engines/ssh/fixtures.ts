import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SealedCaKeyStore } from '../../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import { SshService } from '../../../../lambdas/engines/ssh/ssh-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { FakeDatabaseProvider, unusedAwsProvider, unusedOAuthProvider } from '../../core/leases/fake-provider.ts';
import { FakeClock } from '../../core/secrets/fixtures.ts';

/** An SSH engine over a memory store and the local sealed CA key store, with a lease service on a fake clock. */
export function sshFixture(options: { randomSerial?: () => Buffer } = {}) {
  const store = new MemoryStore();
  const clock = new FakeClock(Date.now());
  const keyProvider = new FakeKeyProvider();
  const caKeys = new SealedCaKeyStore({ store, keyProvider, clock });
  const ssh = new SshService({ store, clock, caKeys, keyProvider, ...options });
  const leases = new LeaseService({
    store,
    clock,
    providers: { database: new FakeDatabaseProvider(), aws: unusedAwsProvider, ssh, oauth: unusedOAuthProvider },
  });
  return { store, clock, keyProvider, caKeys, ssh, leases };
}

/** A scratch directory for keys made by ssh-keygen. */
export function scratch() {
  const dir = mkdtempSync(path.join(tmpdir(), 'coffer-ssh-'));
  return {
    dir,
    write(name: string, text: string): string {
      const file = path.join(dir, name);
      writeFileSync(file, text, { mode: 0o600 });
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A user key pair made by ssh-keygen; returns the public key line and the private key's path. */
export function userKey(dir: string, name: string, args: readonly string[] = ['-t', 'ed25519']) {
  const file = path.join(dir, name);
  const result = spawnSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', name, '-f', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
  return { publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), privateKeyFile: file };
}

/** `ssh-keygen -L` of a certificate: OpenSSH's own reading of it. */
export function describeCertificate(dir: string, certificate: string): string {
  const file = path.join(dir, `cert-${Math.random().toString(36).slice(2)}.pub`);
  writeFileSync(file, `${certificate}\n`);
  const result = spawnSync('ssh-keygen', ['-L', '-f', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ssh-keygen -L failed: ${result.stderr}`);
  return result.stdout;
}
