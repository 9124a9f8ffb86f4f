import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { client, columns, integer, nameList, print } from '../io.ts';

type AwsRole = z.infer<typeof api.AwsRole>;

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`${flag}: cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
}

/** A `--file` body: a JSON object whose fields the flags then override, as `db role put` reads it. */
async function jsonFile(file: string | undefined): Promise<Record<string, unknown>> {
  if (file === undefined) return {};
  const text = await readText(file, '--file');
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new CliError(`${file} must hold a JSON object`, ExitCode.usage);
  }
}

/**
 * The session policy as the API takes it: JSON text. A file is read as it is; the server checks that it is JSON and
 * says which rule it breaks, so the CLI does not guess at policy grammar.
 */
async function policyDocument(flags: { policyFile?: string; policyDocument?: string }): Promise<string | undefined> {
  if (flags.policyFile !== undefined && flags.policyDocument !== undefined) {
    throw new CliError('give --policy-file or --policy-document, not both', ExitCode.usage);
  }
  if (flags.policyFile !== undefined) return (await readText(flags.policyFile, '--policy-file')).trim();
  return flags.policyDocument;
}

/** Drops unset flags, so a --file body is only overridden by what was given. */
function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** A role for people: one line per field, TTLs in seconds with their unit, the policy as its JSON text. */
function showRole(command: Command, role: AwsRole): void {
  print(command, role, () =>
    columns([
      ['name', role.name],
      ['role_arn', role.role_arn],
      ['default_ttl', `${role.default_ttl}s`],
      ['max_ttl', `${role.max_ttl}s`],
      ['max_leases', role.max_leases === undefined ? '(server default)' : String(role.max_leases)],
      ['policy_document', role.policy_document ?? '(none: the role’s own policies)'],
    ]),
  );
}

const rolePath = (name: string) => `/v1/aws/roles/${encodeURIComponent(name)}`;

/**
 * `coffer aws role put|get|list|delete`: the AWS roles `coffer creds get aws/<role>` issues STS credentials for (an
 * IAM role to assume, an inline session policy, TTLs and a lease quota).
 */
export function registerAwsCommands(program: Command): void {
  const aws = program.command('aws').description('the AWS secrets engine: roles for STS credentials');
  const role = aws
    .command('role')
    .description('roles: the IAM role to assume, an inline session policy, TTLs (`coffer creds get aws/<role>`)');

  role
    .command('put <name>')
    .description('create or replace a role')
    .option('--file <path>', 'JSON body; flags override its fields')
    .option('--role-arn <arn>', 'the IAM role STS assumes, e.g. arn:aws:iam::123456789012:role/deploy')
    .option('--policy-file <path>', 'inline session policy (JSON) read from a file')
    .option('--policy-document <json>', 'inline session policy as JSON text')
    .option('--default-ttl <duration>', 'e.g. 15m (at least 15m, as STS requires); default 1h')
    .option('--max-ttl <duration>', 'at most 12h; default 12h')
    .option('--max-leases <n>', 'live leases allowed for this role', integer('--max-leases'))
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      const body = {
        ...(await jsonFile(flags.file as string | undefined)),
        ...defined({
          role_arn: flags.roleArn,
          policy_document: await policyDocument(flags as { policyFile?: string; policyDocument?: string }),
          default_ttl: flags.defaultTtl,
          max_ttl: flags.maxTtl,
          max_leases: flags.maxLeases,
        }),
      };
      showRole(command, await client(command).call<AwsRole>('PUT', rolePath(name), { body }));
    });

  role
    .command('get <name>')
    .description('read a role')
    .action(async (name: string, _flags: unknown, command: Command) => {
      showRole(command, await client(command).call<AwsRole>('GET', rolePath(name)));
    });

  role
    .command('list')
    .description('list role names')
    .action(async (_flags: unknown, command: Command) => {
      const out = await client(command).call<{ roles: string[] }>('GET', '/v1/aws/roles');
      print(command, out, () => nameList(out.roles));
    });

  role
    .command('delete <name>')
    .description('delete a role (its live leases stay revocable; their STS sessions end at their expiry)')
    .action(async (name: string, _flags: unknown, command: Command) => {
      await client(command).call('DELETE', rolePath(name));
      print(command, { deleted: name }, () => `deleted aws role ${name}`);
    });
}
