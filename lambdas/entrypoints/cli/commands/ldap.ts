import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { LdapEntryList, LdapEntryView } from '../../../api/auth.ts';
import { client, collect, columns, NONE, nameList, print, readSecretInput } from '../io.ts';

const DEFAULT_LDAP_PATH = 'ldap';
const enc = encodeURIComponent;

/**
 * The password of `coffer login --method ldap`: from `--password-file`, else `COFFER_PASSWORD`, else typed at a
 * prompt that does not echo (on a terminal), else stdin. Never from argv, where process listings would show it.
 */
export async function ldapPassword(passwordFile: string | undefined): Promise<string> {
  if (passwordFile !== undefined) return (await readSecretInput(passwordFile)).toString('utf8');
  const fromEnv = process.env.COFFER_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY) return promptHidden('Password: ');
  return (await readSecretInput(undefined)).toString('utf8');
}

function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (error?: CliError) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new CliError('interrupted', ExitCode.usage));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * `coffer ldap group|user put|get|list|delete`: what directory groups and users get at an LDAP mount, as Vault's
 * `auth/ldap/groups/<name>` and `auth/ldap/users/<name>`.
 */
export function registerLdapCommands(program: Command): void {
  const ldap = program.command('ldap').description('LDAP / Active Directory groups and users → policies');
  for (const kind of ['group', 'user'] as const) {
    const noun = ldap
      .command(kind)
      .description(
        kind === 'group'
          ? 'the policies of the members of a directory group'
          : "one directory user's own policies and extra groups",
      );
    const base = (path: string | undefined) => `/v1/auth/${enc(path ?? DEFAULT_LDAP_PATH)}/${kind}s`;
    const pathOption = ['--path <mount>', `the LDAP mount (default ${DEFAULT_LDAP_PATH})`] as const;
    const show = (entry: LdapEntryView) =>
      columns([
        ['name', entry.name],
        ['policies', entry.policies.join(',') || NONE],
        ...(entry.groups === undefined ? [] : [['groups', entry.groups.join(',') || NONE] as [string, string]]),
      ]);

    const put = noun
      .command('put <name>')
      .description(`create or replace a ${kind} entry (it may grant only policies you hold, and they must exist)`)
      .option(...pathOption)
      .option('--policy <name>', 'a policy its tokens get, repeatable', collect);
    if (kind === 'user') put.option('--group <name>', 'a group the user is in besides its directory groups', collect);
    put.action(
      async (name: string, flags: { path?: string; policy?: string[]; group?: string[] }, command: Command) => {
        const body = { policies: flags.policy ?? [], ...(kind === 'user' && { groups: flags.group ?? [] }) };
        const entry = await client(command).call<LdapEntryView>('PUT', `${base(flags.path)}/${enc(name)}`, { body });
        print(command, entry, () => `wrote ${kind} ${entry.mount}/${entry.name}`);
      },
    );

    noun
      .command('get <name>')
      .description(`read a ${kind} entry`)
      .option(...pathOption)
      .action(async (name: string, flags: { path?: string }, command: Command) => {
        const entry = await client(command).call<LdapEntryView>('GET', `${base(flags.path)}/${enc(name)}`);
        print(command, entry, () => show(entry));
      });

    noun
      .command('list')
      .description(`list the ${kind} entries of a mount`)
      .option(...pathOption)
      .action(async (flags: { path?: string }, command: Command) => {
        const list = await client(command).call<LdapEntryList>('GET', base(flags.path));
        print(command, list, () => nameList(list.names));
      });

    noun
      .command('delete <name>')
      .description(`delete a ${kind} entry`)
      .option(...pathOption)
      .action(async (name: string, flags: { path?: string }, command: Command) => {
        await client(command).call('DELETE', `${base(flags.path)}/${enc(name)}`);
        print(command, { deleted: name }, () => `deleted ${kind} ${name}`);
      });
  }
}

/** The login body of `coffer login --method ldap`. */
export async function ldapLoginBody(flags: { username?: string; passwordFile?: string }) {
  if (flags.username === undefined) throw new CliError('--method ldap needs --username', ExitCode.usage);
  const password = await ldapPassword(flags.passwordFile);
  if (password === '') throw new CliError('the password is empty', ExitCode.usage);
  return { username: flags.username, password };
}
