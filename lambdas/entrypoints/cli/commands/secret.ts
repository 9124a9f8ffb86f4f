import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { namePath } from '../../../sdk/name-path.ts';
import { client, collect, globals, integer, keyValues, listTable, nameList, print, readSecretInput } from '../io.ts';
import { registerSecretRotate } from './rotation.ts';
import { type ExpirationFlags, expirationBody, withExpirationOptions } from './secret-expiration.ts';
import { registerSecretReplication } from './secret-replication.ts';

interface ValueFlags {
  file?: string;
  binary?: boolean;
}

const NO_VALUE = 'no value: pass --file or pipe it on stdin';

async function valueBody(flags: ValueFlags): Promise<{ value: string } | { binary: string }> {
  const data = await readSecretInput(flags.file, { keepNewline: flags.binary === true });
  if (data.length === 0) {
    // An empty pipe is almost always a failed upstream command: storing "" would hide that failure.
    throw new CliError(
      flags.file === undefined || flags.file === '-' ? NO_VALUE : 'the value is empty',
      ExitCode.usage,
    );
  }
  if (flags.binary === true) return { binary: data.toString('base64') };
  return { value: data.toString('utf8') };
}

interface SecretRead {
  name: string;
  versionId: string;
  versionStages: string[];
  value?: string;
  binary?: string;
  /** Present while the secret's expiration policy warns (expiring soon, or read during its grace period). */
  warnings?: string[];
}

/** The version carrying `label`, or undefined when none does or the metadata cannot be read (the server decides). */
async function labelHolder(api: ReturnType<typeof client>, name: string, label: string): Promise<string | undefined> {
  const described = await api
    .call<{ versionIdsToStages?: Record<string, string[]> }>('GET', `/v1/secret/metadata/${namePath(name)}`)
    .catch(() => undefined);
  const stages = described?.versionIdsToStages ?? {};
  return Object.keys(stages).find((versionId) => stages[versionId]?.includes(label));
}

export function registerSecretCommands(program: Command): void {
  const secret = program.command('secret').description('store, version, read and delete secrets');

  withExpirationOptions(secret.command('create <name>'))
    .description('create a secret; its first value comes from stdin (when piped) or --file')
    .option('--file <path>', 'read the value from a file, or "-" for stdin')
    .option('--no-value', 'create the secret without a value, even when stdin is not a terminal')
    .option('--binary', 'store the value as bytes')
    .option('--description <text>')
    .option('--tag <key=value>', 'repeatable', collect)
    .option('--metadata <key=value>', 'custom metadata, repeatable', collect)
    .option('--request-token <token>', 'idempotency token; becomes the version id')
    .option('--kms-key-id <key>', 'seal under a customer key: alias/<name>, key id or key ARN (default: the root key)')
    .action(async (name: string, flags: ValueFlags & Record<string, unknown>, command: Command) => {
      if (flags.value === false && flags.file !== undefined) {
        throw new CliError('use --file or --no-value, not both', ExitCode.usage);
      }
      // Like `put`, a piped value is the value; only a terminal (nobody piping) or --no-value creates it empty.
      const hasValue = flags.value !== false && (flags.file !== undefined || process.stdin.isTTY !== true);
      const value = hasValue ? await valueBody(flags) : {};
      const body = {
        name,
        ...value,
        description: flags.description,
        tags: keyValues(flags.tag as string[] | undefined, '--tag'),
        metadata: keyValues(flags.metadata as string[] | undefined, '--metadata'),
        clientRequestToken: flags.requestToken,
        kmsKeyId: flags.kmsKeyId,
        expiration: expirationBody(flags as ExpirationFlags),
      };
      const created = await client(command).call('POST', '/v1/secrets', { body });
      print(command, created, () => `created ${created.name} (${created.arn})`);
    });

  secret
    .command('put <name>')
    .description('write a new version from stdin (default) or --file; creates the secret if absent')
    .option('--file <path>', 'read the value from a file, or "-" for stdin')
    .option('--binary', 'store the value as bytes')
    .option('--stage <label>', 'labels for the new version (default AWSCURRENT), repeatable', collect)
    .option('--if-version <versionId>', 'check-and-set: only if the current version is this one')
    .option('--if-absent', 'check-and-set: only if the secret has no current version')
    .option('--request-token <token>', 'idempotency token; becomes the version id')
    .action(async (name: string, flags: ValueFlags & Record<string, unknown>, command: Command) => {
      if (flags.ifVersion !== undefined && flags.ifAbsent === true) {
        throw new CliError('use --if-version or --if-absent, not both', ExitCode.usage);
      }
      const cas =
        flags.ifVersion !== undefined
          ? { ifVersionId: flags.ifVersion }
          : flags.ifAbsent === true
            ? { ifAbsent: true }
            : undefined;
      const body = {
        ...(await valueBody(flags)),
        stages: flags.stage,
        cas,
        clientRequestToken: flags.requestToken,
      };
      const put = await client(command).call('PUT', `/v1/secret/data/${namePath(name)}`, { body });
      print(command, put, () => `${put.name} version ${put.versionId} ${(put.versionStages as string[]).join(',')}`);
    });

  secret
    .command('get <name>')
    .description('print a secret value (AWSCURRENT unless --stage or --version-id)')
    .option('--stage <label>')
    .option('--version-id <id>')
    .action(async (name: string, flags: { stage?: string; versionId?: string }, command: Command) => {
      const read = await client(command).call<SecretRead>('GET', `/v1/secret/data/${namePath(name)}`, {
        query: { stage: flags.stage, versionId: flags.versionId },
      });
      // On stderr, so a pipe still receives the value alone.
      for (const warning of read.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
      if (globals(command).output === 'json') {
        print(command, read);
      } else if (read.binary !== undefined) {
        process.stdout.write(Buffer.from(read.binary, 'base64'));
      } else {
        process.stdout.write(`${read.value ?? ''}\n`);
      }
    });

  secret
    .command('list [prefix]')
    .description('list secrets under a prefix (folders end in "/"); --recursive lists everything below')
    .option('--recursive')
    .option('--include-deleted', 'include secrets scheduled for deletion')
    .option('--limit <n>', 'page size', integer('--limit'))
    .action(async (prefix: string | undefined, flags: Record<string, unknown>, command: Command) => {
      const api = client(command);
      const path = prefix === undefined || prefix === '' ? '/v1/secret/list' : `/v1/secret/list/${namePath(prefix)}`;
      const entries: Array<{ name: string; kind: string; arn?: string }> = [];
      let cursor: string | undefined;
      do {
        const page = await api.call<{ entries: typeof entries; nextCursor?: string }>('GET', path, {
          query: {
            recursive: flags.recursive === true ? 'true' : undefined,
            includePlannedDeletion: flags.includeDeleted === true ? 'true' : undefined,
            limit: flags.limit as number | undefined,
            cursor,
          },
        });
        entries.push(...page.entries);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      print(command, { entries }, () => nameList(entries.map((e) => e.name)));
    });

  secret
    .command('describe <name>')
    .description('show metadata, tags and which version carries which label')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const d = await client(command).call('GET', `/v1/secret/metadata/${namePath(name)}`);
      print(command, d);
    });

  secret
    .command('versions <name>')
    .description('list versions, newest first')
    .option('--include-deprecated', 'include versions without labels')
    .action(async (name: string, flags: { includeDeprecated?: boolean }, command: Command) => {
      const page = await client(command).call<{
        versions: Array<{ versionId: string; versionStages: string[]; createdAt: string }>;
      }>('GET', `/v1/secret/versions/${namePath(name)}`, {
        query: { includeDeprecated: flags.includeDeprecated === true ? 'true' : undefined },
      });
      print(command, page, () =>
        listTable(
          ['VERSION', 'CREATED', 'STAGES'],
          page.versions.map((v) => [v.versionId, v.createdAt, v.versionStages.join(',')]),
        ),
      );
    });

  secret
    .command('stage <name> <label>')
    .description('move a staging label (--move-to) and/or remove it from a version (--remove-from)')
    .option('--move-to <versionId>')
    .option('--remove-from <versionId>')
    .action(async (name: string, label: string, flags: { moveTo?: string; removeFrom?: string }, command: Command) => {
      if (flags.moveTo === undefined && flags.removeFrom === undefined) {
        throw new CliError('give --move-to and/or --remove-from', ExitCode.usage);
      }
      const api = client(command);
      if (flags.moveTo !== undefined && flags.removeFrom === undefined) {
        // As in UpdateSecretVersionStage, moving a label that is on another version must name that version; the
        // server's refusal names its API field, so find the holder here and name the flag instead.
        const holder = await labelHolder(api, name, label);
        if (holder !== undefined && holder !== flags.moveTo) {
          throw new CliError(`${label} is on version ${holder}: also pass --remove-from ${holder}`, ExitCode.usage);
        }
      }
      const body = { stage: label, moveToVersionId: flags.moveTo, removeFromVersionId: flags.removeFrom };
      const result = await api.call('POST', `/v1/secret/stages/${namePath(name)}`, { body });
      print(command, result);
    });

  withExpirationOptions(secret.command('update <name>'))
    .description("change a secret's description, key or expiration; a new key re-encrypts its labelled versions")
    .option('--clear-expiration', 'remove the expiration policy')
    .option('--description <text>')
    .option('--kms-key-id <key>', 'seal under a customer key from now on: alias/<name>, key id or key ARN')
    .option('--default-key', 'go back to the default key (the root key)')
    .action(
      async (
        name: string,
        flags: {
          description?: string;
          kmsKeyId?: string;
          defaultKey?: boolean;
          clearExpiration?: boolean;
        } & ExpirationFlags,
        command: Command,
      ) => {
        if (flags.kmsKeyId !== undefined && flags.defaultKey === true) {
          throw new CliError('use --kms-key-id or --default-key, not both', ExitCode.usage);
        }
        const expiration = expirationBody(flags);
        if (expiration !== undefined && flags.clearExpiration === true) {
          throw new CliError('use --clear-expiration or expiration flags, not both', ExitCode.usage);
        }
        const body = {
          description: flags.description,
          ...(flags.defaultKey === true ? { kmsKeyId: null } : { kmsKeyId: flags.kmsKeyId }),
          ...(flags.clearExpiration === true ? { expiration: null } : { expiration }),
        };
        const result = await client(command).call('PATCH', `/v1/secret/metadata/${namePath(name)}`, { body });
        print(command, result, () => `updated ${name}`);
      },
    );

  secret
    .command('delete <name>')
    .description('schedule deletion after a recovery window (7-30 days, default 30), or --force to delete now')
    .option('--recovery-window-days <n>', 'days before the secret is purged', integer('--recovery-window-days'))
    .option('--force', 'delete immediately, without recovery')
    .action(async (name: string, flags: { recoveryWindowDays?: number; force?: boolean }, command: Command) => {
      const result = await client(command).call('DELETE', `/v1/secret/metadata/${namePath(name)}`, {
        query: { recoveryWindowDays: flags.recoveryWindowDays, force: flags.force === true ? 'true' : undefined },
      });
      print(command, result, () =>
        flags.force === true ? `deleted ${name}` : `${name} will be deleted at ${String(result.deletionDate)}`,
      );
    });

  secret
    .command('restore <name>')
    .description('cancel a scheduled deletion')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const result = await client(command).call('POST', `/v1/secret/restore/${namePath(name)}`);
      print(command, result, () => `restored ${name}`);
    });

  registerSecretRotate(secret);
  registerSecretReplication(secret);
}
