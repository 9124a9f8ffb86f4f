import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon } from './daemon.ts';
import { freePort } from './free-port.ts';

/** Where Debian's `openssh-server` installs the daemon (not on a non-root PATH). */
const SSHD = process.env.COFFER_TEST_SSHD ?? '/usr/sbin/sshd';
const run = promisify(execFile);

/**
 * A real OpenSSH server for tests, on a free loopback port, trusting one user CA and reading a revoked-keys file.
 * Logins are as root (the tests run as root; `PermitRootLogin prohibit-password` allows certificates only), and
 * `AuthorizedPrincipalsFile` maps certificate principals to the account: root accepts the principals in
 * `principals`, nothing else. No password, keyboard-interactive or authorized_keys login is possible.
 */
export interface TestSshd {
  readonly port: number;
  readonly dir: string;
  /** Replaces the file sshd reads `RevokedKeys` from (it reads it at every authentication). */
  setRevokedKeys(text: string): void;
  /** Logs in as root with a private key and its certificate and runs `true`: whether sshd let the login through. */
  login(privateKeyFile: string, certificate: string): Promise<{ ok: boolean; output: string }>;
  stop(): Promise<void>;
}

export async function startSshd(options: {
  readonly trustedUserCaKey: string;
  readonly principals: readonly string[];
}): Promise<TestSshd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-sshd-'));
  // sshd's privilege separation directory; Debian creates it at boot, a container may not have it.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  writeFileSync(path.join(dir, 'trusted_user_ca_keys'), `${options.trustedUserCaKey.trim()}\n`);
  writeFileSync(path.join(dir, 'revoked_keys'), '');
  mkdirSync(path.join(dir, 'principals'));
  writeFileSync(path.join(dir, 'principals', 'root'), options.principals.map((p) => `${p}\n`).join(''));
  const port = await freePort();
  const config = [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${path.join(dir, 'host_key')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `TrustedUserCAKeys ${path.join(dir, 'trusted_user_ca_keys')}`,
    `RevokedKeys ${path.join(dir, 'revoked_keys')}`,
    `AuthorizedPrincipalsFile ${path.join(dir, 'principals')}/%u`,
    'AuthorizedKeysFile none',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'StrictModes no',
    'UsePAM no',
    'LogLevel VERBOSE',
  ];
  writeFileSync(path.join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  const daemon = await startDaemon({
    name: 'sshd',
    command: SSHD,
    args: ['-D', '-e', '-f', path.join(dir, 'sshd_config')],
    dir,
    ready: () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
  });
  return {
    port,
    dir,
    setRevokedKeys(text) {
      writeFileSync(path.join(dir, 'revoked_keys'), text);
    },
    async login(privateKeyFile, certificate) {
      const certFile = path.join(dir, `cert-${Math.random().toString(36).slice(2)}.pub`);
      writeFileSync(certFile, `${certificate.trim()}\n`);
      const args = [
        '-F',
        '/dev/null',
        '-i',
        privateKeyFile,
        '-o',
        `CertificateFile=${certFile}`,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'PreferredAuthentications=publickey',
        '-p',
        String(port),
        'root@127.0.0.1',
        'true',
      ];
      try {
        const result = await run('ssh', args, { encoding: 'utf8' });
        return { ok: true, output: result.stderr };
      } catch (err) {
        const e = err as { stderr?: string };
        return { ok: false, output: `${e.stderr ?? ''}\n--- sshd ---\n${daemon.output().slice(-2000)}` };
      }
    },
    stop: daemon.stop,
  };
}
