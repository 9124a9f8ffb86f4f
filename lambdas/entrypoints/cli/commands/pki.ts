import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { addRoleReadCommands, client, columns, print } from '../io.ts';

/** `issue` answers the private key too; `sign` does not. */
type Issued = z.infer<typeof api.PkiCertificateIssued> &
  Partial<Pick<z.infer<typeof api.PkiKeyIssued>, 'private_key' | 'private_key_type'>>;

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${flag} ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
}

/** Writes PEM output; private keys get mode 0600. */
async function writeOut(file: string, content: string, secret = false): Promise<void> {
  await writeFile(file, content, { mode: secret ? 0o600 : 0o644 });
}

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

async function saveIssued(
  issued: Issued,
  flags: { certOut?: string; keyOut?: string; chainOut?: string },
): Promise<Issued> {
  if (flags.certOut !== undefined) await writeOut(flags.certOut, issued.certificate);
  if (flags.chainOut !== undefined) await writeOut(flags.chainOut, issued.ca_chain.join(''));
  if (flags.keyOut !== undefined && issued.private_key !== undefined) {
    await writeOut(flags.keyOut, issued.private_key, true);
    // Written to a file: keep it off the terminal.
    const { private_key: _omitted, ...rest } = issued;
    return rest;
  }
  return issued;
}

function describeIssued(issued: Issued): string {
  return [
    columns([
      ['serial', issued.serial_number],
      ['expires', issued.expiration],
    ]),
    issued.certificate.trimEnd(),
    ...issued.ca_chain.map((pem) => pem.trimEnd()),
    ...(issued.private_key === undefined ? [] : [issued.private_key.trimEnd()]),
  ].join('\n');
}

export function registerPkiCommands(program: Command): void {
  const pki = program.command('pki').description('certificate authority: CAs, roles, issue, sign, revoke, CRL');

  const root = pki.command('root').description('the root CA');
  root
    .command('generate')
    .description('generate the root CA key and self-signed certificate')
    .requiredOption('--common-name <cn>')
    .option('--key-type <type>', 'ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096', 'ec-p256')
    .option('--ttl <duration>', 'e.g. 87600h')
    .option('--cert-out <file>')
    .action(
      async (flags: { commonName: string; keyType: string; ttl?: string; certOut?: string }, command: Command) => {
        const created = await client(command).call<{ certificate: string; serial_number: string }>(
          'POST',
          '/v1/pki/root/generate',
          { body: { common_name: flags.commonName, key_type: flags.keyType, ttl: flags.ttl } },
        );
        if (flags.certOut !== undefined) await writeOut(flags.certOut, created.certificate);
        print(command, created, () => created.certificate);
      },
    );
  root
    .command('sign-intermediate')
    .description('sign an intermediate CA CSR with the root')
    .requiredOption('--csr <file>')
    .option('--ttl <duration>')
    .option('--cert-out <file>')
    .action(async (flags: { csr: string; ttl?: string; certOut?: string }, command: Command) => {
      const signed = await client(command).call<{ certificate: string }>('POST', '/v1/pki/root/sign-intermediate', {
        body: { csr: await readText(flags.csr, '--csr'), ttl: flags.ttl },
      });
      if (flags.certOut !== undefined) await writeOut(flags.certOut, signed.certificate);
      print(command, signed, () => signed.certificate);
    });

  const intermediate = pki.command('intermediate').description('the intermediate (issuing) CA');
  intermediate
    .command('generate')
    .description('generate the intermediate key and CSR (--sign-with-root: have our root sign it now)')
    .requiredOption('--common-name <cn>')
    .option('--key-type <type>', 'ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096', 'ec-p256')
    .option('--sign-with-root')
    .option('--ttl <duration>')
    .option('--csr-out <file>')
    .action(
      async (
        flags: { commonName: string; keyType: string; signWithRoot?: boolean; ttl?: string; csrOut?: string },
        command: Command,
      ) => {
        const created = await client(command).call<{ csr: string; certificate?: string }>(
          'POST',
          '/v1/pki/intermediate/generate',
          {
            body: {
              common_name: flags.commonName,
              key_type: flags.keyType,
              sign_with_root: flags.signWithRoot === true,
              ttl: flags.ttl,
            },
          },
        );
        if (flags.csrOut !== undefined) await writeOut(flags.csrOut, created.csr);
        print(command, created, () => created.certificate ?? created.csr);
      },
    );
  intermediate
    .command('set-signed')
    .description("import the intermediate's certificate signed by an external CA")
    .requiredOption('--cert <file>')
    .option('--chain <file>', 'issuer certificates (PEM), nearest first; default: our root')
    .action(async (flags: { cert: string; chain?: string }, command: Command) => {
      const chainText = flags.chain === undefined ? undefined : await readText(flags.chain, '--chain');
      const chain = chainText?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g);
      const set = await client(command).call('POST', '/v1/pki/intermediate/set-signed', {
        body: { certificate: await readText(flags.cert, '--cert'), chain: chain ?? undefined },
      });
      print(command, set, () => `intermediate CA set (serial ${String(set.serial_number)})`);
    });

  const role = pki.command('role').description('PKI roles');
  role
    .command('put <name>')
    .description('create or replace a role (JSON from --file, or flags)')
    .option('--file <path>', 'the role as JSON')
    .option('--allowed-domains <list>', 'comma-separated; repeatable', list)
    .option('--allow-subdomains')
    .option('--allow-bare-domains')
    .option('--allow-glob-domains')
    .option('--allow-ip-sans')
    .option('--ttl <duration>')
    .option('--max-ttl <duration>')
    .option('--key-type <type>', 'rsa-2048|rsa-3072|rsa-4096|ec-p256|ec-p384|ed25519|any')
    .option('--key-usage <list>', 'e.g. DigitalSignature,KeyEncipherment', list)
    .option('--ext-key-usage <list>', 'e.g. ServerAuth,ClientAuth', list)
    .option('--store-private-key')
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
          allowed_domains: flags.allowedDomains,
          allow_subdomains: flags.allowSubdomains,
          allow_bare_domains: flags.allowBareDomains,
          allow_glob_domains: flags.allowGlobDomains,
          allow_ip_sans: flags.allowIpSans,
          ttl: flags.ttl,
          max_ttl: flags.maxTtl,
          key_type: flags.keyType,
          key_usage: flags.keyUsage,
          ext_key_usage: flags.extKeyUsage,
          store_private_key: flags.storePrivateKey,
        };
      }
      const saved = await client(command).call('PUT', `/v1/pki/roles/${encodeURIComponent(name)}`, { body });
      print(command, saved, () => `saved role ${name}`);
    });
  addRoleReadCommands(role, '/v1/pki/roles');

  pki
    .command('issue <role>')
    .description('generate a key and certificate; the private key is shown once (or written to --key-out, 0600)')
    .requiredOption('--common-name <cn>')
    .option('--alt-names <list>', 'comma-separated DNS names; repeatable', list)
    .option('--ip-sans <list>', 'comma-separated IP addresses; repeatable', list)
    .option('--ttl <duration>')
    .option('--cert-out <file>')
    .option('--key-out <file>')
    .option('--chain-out <file>')
    .action(async (roleName: string, flags: Record<string, string | string[] | undefined>, command: Command) => {
      const issued = await client(command).call<Issued>('POST', `/v1/pki/issue/${encodeURIComponent(roleName)}`, {
        body: { common_name: flags.commonName, alt_names: flags.altNames, ip_sans: flags.ipSans, ttl: flags.ttl },
      });
      const shown = await saveIssued(issued, flags as { certOut?: string; keyOut?: string; chainOut?: string });
      print(command, shown, () => describeIssued(shown));
    });

  pki
    .command('sign <role>')
    .description('sign a CSR (PEM file) under a role')
    .requiredOption('--csr <file>')
    .option('--common-name <cn>', 'default: the CN of the CSR')
    .option('--alt-names <list>', 'comma-separated; repeatable', list)
    .option('--ip-sans <list>', 'comma-separated; repeatable', list)
    .option('--ttl <duration>')
    .option('--cert-out <file>')
    .option('--chain-out <file>')
    .action(async (roleName: string, flags: Record<string, string | string[] | undefined>, command: Command) => {
      const csr = await readText(String(flags.csr), '--csr');
      const signed = await client(command).call<Issued>('POST', `/v1/pki/sign/${encodeURIComponent(roleName)}`, {
        body: {
          csr,
          common_name: flags.commonName,
          alt_names: flags.altNames,
          ip_sans: flags.ipSans,
          ttl: flags.ttl,
        },
      });
      const shown = await saveIssued(signed, flags as { certOut?: string; chainOut?: string });
      print(command, shown, () => describeIssued(shown));
    });

  pki
    .command('revoke <serial>')
    .description('revoke a certificate and publish a new CRL')
    .action(async (serial: string, _flags: unknown, command: Command) => {
      const revoked = await client(command).call('POST', '/v1/pki/revoke', { body: { serial_number: serial } });
      print(command, revoked, () => `revoked ${serial} (CRL number ${String(revoked.crl_number)})`);
    });

  pki
    .command('crl')
    .description('print the current CRL (PEM)')
    .option('--out <file>')
    .action(async (flags: { out?: string }, command: Command) => {
      const crl = await client(command).call<{ crl: string }>('GET', '/v1/pki/crl/info');
      if (flags.out !== undefined) await writeOut(flags.out, crl.crl);
      print(command, crl, () => crl.crl);
    });

  pki
    .command('ca')
    .description('print the issuing CA chain (PEM)')
    .option('--out <file>')
    .action(async (flags: { out?: string }, command: Command) => {
      const ca = await client(command).call<{ pem: string }>('GET', '/v1/pki/ca');
      if (flags.out !== undefined) await writeOut(flags.out, ca.pem);
      print(command, ca, () => ca.pem);
    });

  pki
    .command('cert <serial>')
    .description("a certificate's status and PEM")
    .action(async (serial: string, _flags: unknown, command: Command) => {
      print(command, await client(command).call('GET', `/v1/pki/certs/${encodeURIComponent(serial)}`));
    });

  pki
    .command('tidy')
    .description('remove certificates expired longer than --safety-buffer (default 72h) from the index and CRL')
    .option('--safety-buffer <duration>')
    .action(async (flags: { safetyBuffer?: string }, command: Command) => {
      const tidied = await client(command).call('POST', '/v1/pki/tidy', {
        body: { safety_buffer: flags.safetyBuffer },
      });
      print(command, tidied, () => `removed ${String(tidied.removed)}, from CRL ${String(tidied.removed_from_crl)}`);
    });
}
