import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { client, collect, columns, integer, nameList, print } from '../io.ts';

async function jsonFile(file: string | undefined): Promise<Record<string, unknown>> {
  if (file === undefined) return {};
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CliError(`cannot read ${file}`, ExitCode.usage);
  });
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new CliError(`${file} must hold a JSON object`, ExitCode.usage);
  }
}

/** Drops unset flags, so a --file body is only overridden by what was given. */
function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function show(command: Command, value: Record<string, unknown>): void {
  print(command, value, () =>
    columns(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
  );
}

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('the database secrets engine: connection configs and roles');
  const config = db.command('config').description('connection configs (admin credential = a Coffer secret)');

  config
    .command('put <name>')
    .description('create or replace a connection config')
    .option('--file <path>', 'JSON body; flags override its fields')
    .option('--host <host>')
    .option('--port <port>', 'default 5432', integer('--port'))
    .option('--database <db>')
    .option('--admin-secret <name>', 'Coffer secret holding {"username","password"}')
    .option('--allowed-role <role>', 'repeatable; default any', collect)
    .option('--max-connections <n>', 'default 4', integer('--max-connections'))
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      const body = {
        ...(await jsonFile(flags.file as string | undefined)),
        ...defined({
          host: flags.host,
          port: flags.port,
          database: flags.database,
          admin_secret: flags.adminSecret,
          allowed_roles: flags.allowedRole,
          max_connections: flags.maxConnections,
        }),
      };
      show(command, await client(command).call('PUT', `/v1/database/config/${encodeURIComponent(name)}`, { body }));
    });
  config.command('get <name>').action(async (name: string, _f: unknown, command: Command) => {
    show(command, await client(command).call('GET', `/v1/database/config/${encodeURIComponent(name)}`));
  });
  config.command('list').action(async (_f: unknown, command: Command) => {
    const out = await client(command).call<{ configs: string[] }>('GET', '/v1/database/config');
    print(command, out, () => nameList(out.configs));
  });
  config.command('delete <name>').action(async (name: string, _f: unknown, command: Command) => {
    await client(command).call('DELETE', `/v1/database/config/${encodeURIComponent(name)}`);
  });

  const role = db.command('role').description('roles: statements, username template, password policy, TTLs');
  role
    .command('put <name>')
    .description('create or replace a role')
    .option('--file <path>', 'JSON body; flags override its fields')
    .option('--db <config>', 'connection config name')
    .option('--creation-statement <sql>', 'repeatable; placeholders {{name}} {{password}} {{expiration}}', collect)
    .option('--revocation-statement <sql>', 'repeatable; default: end sessions, drop owned objects, drop role', collect)
    .option('--renew-statement <sql>', 'repeatable', collect)
    .option('--username-template <t>', 'default v_{{role}}_{{random:8}}')
    .option('--default-ttl <duration>')
    .option('--max-ttl <duration>')
    .option('--max-leases <n>', 'live leases allowed for this role', integer('--max-leases'))
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      const body = {
        ...(await jsonFile(flags.file as string | undefined)),
        ...defined({
          db_name: flags.db,
          creation_statements: flags.creationStatement,
          revocation_statements: flags.revocationStatement,
          renew_statements: flags.renewStatement,
          username_template: flags.usernameTemplate,
          default_ttl: flags.defaultTtl,
          max_ttl: flags.maxTtl,
          max_leases: flags.maxLeases,
        }),
      };
      show(command, await client(command).call('PUT', `/v1/database/roles/${encodeURIComponent(name)}`, { body }));
    });
  role.command('get <name>').action(async (name: string, _f: unknown, command: Command) => {
    show(command, await client(command).call('GET', `/v1/database/roles/${encodeURIComponent(name)}`));
  });
  role.command('list').action(async (_f: unknown, command: Command) => {
    const out = await client(command).call<{ roles: string[] }>('GET', '/v1/database/roles');
    print(command, out, () => nameList(out.roles));
  });
  role.command('delete <name>').action(async (name: string, _f: unknown, command: Command) => {
    await client(command).call('DELETE', `/v1/database/roles/${encodeURIComponent(name)}`);
  });
}
