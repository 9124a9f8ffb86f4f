import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { addRoleReadCommands, client, collect, columns, keyValues, print, readSecretInput } from '../io.ts';

type Signed = z.infer<typeof api.SshSignedCertificate>;
type Otp = z.infer<typeof api.SshOtpCredential>;
type Ca = z.infer<typeof api.SshCa>;

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${flag} ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
}

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

const role = (name: string) => encodeURIComponent(name);

export function registerSshCommands(program: Command): void {
  const ssh = program
    .command('ssh')
    .description('SSH engine: a CA that signs users’ public keys into certificates, and one-time passwords');

  const ca = ssh.command('ca').description("the SSH CA (its public key goes into sshd's TrustedUserCAKeys)");
  ca.command('create')
    .description('generate the CA key (create-only)')
    .option('--key-type <type>', 'ed25519, ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096', 'ed25519')
    .action(async (flags: { keyType: string }, command: Command) => {
      const created = await client(command).call<Ca>('POST', '/v1/ssh/config/ca', {
        body: { key_type: flags.keyType },
      });
      print(command, created, () => created.public_key);
    });
  ca.command('show')
    .description("the CA's public key (one OpenSSH line)")
    .action(async (_flags: unknown, command: Command) => {
      const shown = await client(command).call<Ca>('GET', '/v1/ssh/config/ca');
      print(command, shown, () => shown.public_key);
    });
  ca.command('delete')
    .description('delete the CA (nothing is signed until a new one is created)')
    .action(async (_flags: unknown, command: Command) => {
      print(command, await client(command).call('DELETE', '/v1/ssh/config/ca'), () => 'deleted');
    });

  const roles = ssh.command('role').description('SSH roles');
  roles
    .command('put <name>')
    .description('create or replace a role (JSON from --file, or flags)')
    .option('--file <path>', 'the role as JSON')
    .option('--key-type <type>', 'ca (sign keys) or otp (one-time passwords)', 'ca')
    .option('--allowed-users <globs>', 'comma-separated principal globs; repeatable', list)
    .option('--default-user <principal>')
    .option('--allowed-extensions <list>', 'e.g. permit-pty,permit-port-forwarding', list)
    .option('--default-extension <name=value>', 'repeatable; an empty value for a flag (permit-pty=)', collect)
    .option('--allowed-critical-options <list>', 'e.g. source-address', list)
    .option('--default-critical-option <name=value>', 'repeatable, e.g. force-command=/usr/bin/backup', collect)
    .option('--cidr-list <list>', 'otp: the hosts passwords may be issued for', list)
    .option('--ttl <duration>')
    .option('--max-ttl <duration>')
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      let body: Record<string, unknown>;
      if (typeof flags.file === 'string') {
        try {
          body = JSON.parse(await readText(flags.file, '--file')) as Record<string, unknown>;
        } catch (err) {
          if (err instanceof CliError) throw err;
          throw new CliError('the role document is not valid JSON', ExitCode.usage);
        }
      } else {
        body = {
          key_type: flags.keyType,
          allowed_users: flags.allowedUsers,
          default_user: flags.defaultUser,
          ...(flags.keyType === 'otp'
            ? { cidr_list: flags.cidrList }
            : {
                allowed_extensions: flags.allowedExtensions,
                default_extensions: keyValues(flags.defaultExtension as string[] | undefined, '--default-extension'),
                allowed_critical_options: flags.allowedCriticalOptions,
                default_critical_options: keyValues(
                  flags.defaultCriticalOption as string[] | undefined,
                  '--default-critical-option',
                ),
              }),
          ttl: flags.ttl,
          max_ttl: flags.maxTtl,
        };
      }
      const saved = await client(command).call('PUT', `/v1/ssh/roles/${role(name)}`, { body });
      print(command, saved, () => `saved role ${name}`);
    });
  addRoleReadCommands(roles, '/v1/ssh/roles');

  ssh
    .command('sign <role>')
    .description('sign a public key into an OpenSSH user certificate (under a lease: revoke it to revoke the key)')
    .requiredOption('--public-key <file>', 'e.g. ~/.ssh/id_ed25519.pub')
    .option('--principals <list>', "comma-separated; default: the role's default user", list)
    .option('--ttl <duration>', "e.g. 10m; capped by the role's max_ttl")
    .option('--extension <name=value>', 'repeatable (permit-pty=)', collect)
    .option('--critical-option <name=value>', 'repeatable (source-address=10.0.0.0/8)', collect)
    .option('--cert-out <file>', 'write the certificate here (ssh picks up <key>-cert.pub beside the key)')
    .action(
      async (
        roleName: string,
        flags: {
          publicKey: string;
          principals?: string[];
          ttl?: string;
          extension?: string[];
          criticalOption?: string[];
          certOut?: string;
        },
        command: Command,
      ) => {
        const signed = await client(command).call<Signed>('POST', `/v1/ssh/sign/${role(roleName)}`, {
          body: {
            public_key: await readText(flags.publicKey, '--public-key'),
            valid_principals: flags.principals,
            ttl: flags.ttl,
            extensions: keyValues(flags.extension, '--extension'),
            critical_options: keyValues(flags.criticalOption, '--critical-option'),
          },
        });
        if (flags.certOut !== undefined)
          await writeFile(flags.certOut, `${signed.signed_key.trim()}\n`, { mode: 0o644 });
        print(command, signed, () =>
          [
            columns([
              ['lease', signed.leaseId],
              ['serial', signed.serial_number],
              ['expires', signed.expiresAt],
            ]),
            ...(flags.certOut === undefined ? [signed.signed_key.trim()] : [`wrote ${flags.certOut}`]),
          ].join('\n'),
        );
      },
    );

  ssh
    .command('creds <role>')
    .description('a one-time password for a user on a host (an otp role)')
    .requiredOption('--ip <address>', 'the host the password is for')
    .option('--username <user>', "default: the role's default user")
    .option('--ttl <duration>')
    .action(async (roleName: string, flags: { ip: string; username?: string; ttl?: string }, command: Command) => {
      const issued = await client(command).call<Otp>('POST', `/v1/ssh/creds/${role(roleName)}`, {
        body: { ip: flags.ip, username: flags.username, ttl: flags.ttl },
      });
      print(command, issued, () =>
        columns([
          ['lease', issued.leaseId],
          ['user', issued.username],
          ['host', issued.ip],
          ['password', issued.key],
          ['expires', issued.expiresAt],
        ]),
      );
    });

  ssh
    .command('verify')
    .description(
      "consume a one-time password, as a host's helper does (once; answers its user and host). The password is read " +
        'from stdin or --file, never from the command line (it would show in `ps`)',
    )
    .option('--file <path>', 'a file holding the password; default: stdin')
    .action(async (flags: { file?: string }, command: Command) => {
      const otp = (await readSecretInput(flags.file)).toString('utf8').trim();
      const verified = await client(command).call<{ username: string; ip: string; role_name: string }>(
        'POST',
        '/v1/ssh/verify',
        { body: { otp } },
      );
      print(command, verified, () =>
        columns([
          ['user', verified.username],
          ['host', verified.ip],
          ['role', verified.role_name],
        ]),
      );
    });
}
