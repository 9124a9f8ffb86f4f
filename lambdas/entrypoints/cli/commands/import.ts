import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { sealBundle } from '../import/bundle.ts';
import { collectBundle } from '../import/export.ts';
import { type ConflictPolicy, Importer, type ItemResult, summarise } from '../import/importer.ts';
import { ImportJournal } from '../import/resume.ts';
import type { ImportSource } from '../import/source.ts';
import { awsSecretsManagerSource } from '../import/sources/aws-sm.ts';
import { bundleSource } from '../import/sources/bundle.ts';
import { dotenvSource } from '../import/sources/dotenv.ts';
import { envSource } from '../import/sources/env.ts';
import { k8sSource } from '../import/sources/k8s.ts';
import { vaultSource } from '../import/sources/vault.ts';
import { client, collect, columns, keyValues, listTable, print } from '../io.ts';
import { progressOf } from '../progress.ts';

interface ImportFlags {
  dryRun?: boolean;
  prefix?: string;
  nameTemplate?: string;
  tag?: string[];
  onConflict?: string;
  resumeFile?: string;
  include?: string[];
  exclude?: string[];
  passphraseFile?: string;
  vaultNamespace?: string;
}

const SOURCES =
  'dotenv:<file>, env, k8s:<manifest.yaml>, aws-sm[:<prefix>], vault:<addr>[/<mount>[/<path>]], bundle:<file>';

/**
 * The bundle passphrase: from a file (`--passphrase-file`) or COFFER_BUNDLE_PASSPHRASE, never from argv (process
 * listings and shell history show argv).
 */
async function passphrase(file: string | undefined): Promise<string> {
  let phrase: string | undefined;
  if (file !== undefined) {
    phrase = (
      await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
      })
    ).replace(/\r?\n$/, '');
  } else {
    phrase = process.env.COFFER_BUNDLE_PASSPHRASE;
  }
  if (phrase === undefined || phrase === '') {
    throw new CliError(
      'a bundle needs a passphrase: set COFFER_BUNDLE_PASSPHRASE or pass --passphrase-file',
      ExitCode.usage,
    );
  }
  return phrase;
}

function sourceOf(spec: string, flags: ImportFlags): ImportSource {
  const colon = spec.indexOf(':');
  const kind = colon === -1 ? spec : spec.slice(0, colon);
  const arg = colon === -1 ? '' : spec.slice(colon + 1);
  const needs = (what: string) => {
    if (arg === '') throw new CliError(`${kind}: needs ${what} (${kind}:<${what}>)`, ExitCode.usage);
    return arg;
  };
  switch (kind) {
    case 'dotenv':
      return dotenvSource(needs('file'));
    case 'env':
      return envSource(process.env, { include: flags.include, exclude: flags.exclude });
    case 'k8s':
      return k8sSource(needs('file'));
    case 'aws-sm':
      return awsSecretsManagerSource(arg);
    case 'vault':
      return vaultSource({ address: needs('addr'), token: process.env.VAULT_TOKEN, namespace: flags.vaultNamespace });
    case 'bundle': {
      const file = needs('file');
      return bundleSource(file, () => passphrase(flags.passphraseFile));
    }
    default:
      throw new CliError(`unknown source "${spec}": use ${SOURCES}`, ExitCode.usage);
  }
}

const POLICIES: readonly ConflictPolicy[] = ['skip', 'overwrite', 'new-version'];

function planTable(results: readonly ItemResult[]): string {
  return listTable(
    ['SOURCE', 'KEY', 'NAME', 'ACTION', 'VERSIONS', 'NOTE'],
    results.map((r) => [r.source, r.key, r.name, r.action, String(r.versions), r.reason ?? '']),
  );
}

function summaryTable(results: readonly ItemResult[]): string {
  const counts = summarise(results);
  const table = columns([
    ['SOURCE', 'CREATED', 'UPDATED', 'SKIPPED', 'FAILED'],
    ...counts.map((c) => [String(c.source), String(c.created), String(c.updated), String(c.skipped), String(c.failed)]),
  ]);
  const notes = results
    .filter((r) => r.outcome === 'failed' || (r.outcome === 'skipped' && r.reason !== undefined))
    .map((r) => `${r.outcome}: ${r.key} → ${r.name || '?'}: ${r.reason}`);
  return notes.length === 0 ? table : `${table}\n\n${notes.join('\n')}`;
}

export function registerImportCommands(program: Command): void {
  program
    .command('import <sources...>')
    .description(`move secrets into Coffer from ${SOURCES}`)
    .option('--dry-run', 'print the plan (source key → name, action) and change nothing')
    .option('--prefix <prefix>', 'put before every name, e.g. "prod/"')
    .option('--name-template <template>', "name from the source's {{variables}}, e.g. '{{source}}/{{key}}'")
    .option('--tag <key=value>', 'add to every imported secret, repeatable', collect)
    .option('--on-conflict <policy>', 'when the secret exists: skip, overwrite or new-version', 'skip')
    .option(
      '--resume-file <file>',
      'journal of this import: a re-run with it continues where an interrupted one stopped',
    )
    .option('--include <glob>', 'env: only variables matching, repeatable', collect)
    .option('--exclude <glob>', 'env: leave out variables matching, repeatable', collect)
    .option('--passphrase-file <file>', 'bundle: the passphrase (default COFFER_BUNDLE_PASSPHRASE)')
    .option('--vault-namespace <ns>', 'vault: the namespace (X-Vault-Namespace)')
    .action(async (specs: string[], flags: ImportFlags, command: Command) => {
      const onConflict = flags.onConflict as ConflictPolicy;
      if (!POLICIES.includes(onConflict)) {
        throw new CliError(`--on-conflict must be ${POLICIES.join(', ')}`, ExitCode.usage);
      }
      if (flags.dryRun === true && flags.resumeFile !== undefined) {
        throw new CliError('a dry run writes nothing: drop --resume-file', ExitCode.usage);
      }
      const sources = specs.map((spec) => sourceOf(spec, flags));
      const journal = flags.resumeFile === undefined ? ImportJournal.ephemeral() : ImportJournal.open(flags.resumeFile);
      const importer = new Importer(client(command), journal, {
        prefix: flags.prefix,
        nameTemplate: flags.nameTemplate,
        tags: keyValues(flags.tag, '--tag'),
        onConflict,
        dryRun: flags.dryRun,
      });
      const results: ItemResult[] = [];
      try {
        for (const source of sources) {
          const progress = progressOf(command, `${flags.dryRun === true ? 'planning' : 'importing'} ${source.label}`);
          const items = await progress.run(
            async (p) => {
              p.step('reading the source');
              const items = await source.items();
              return importer.run(source, items, p);
            },
            (done) => `${done.length} item(s)`,
          );
          results.push(...items);
        }
      } finally {
        journal.close();
      }
      if (flags.dryRun === true) {
        print(command, { dryRun: true, plan: results }, () => planTable(results));
        return;
      }
      print(command, { summary: summarise(results), items: results }, () => summaryTable(results));
      if (results.some((r) => r.outcome === 'failed')) process.exitCode = ExitCode.failure;
    });

  program
    .command('export')
    .description('write an encrypted backup bundle of secrets: every version, label, tag and description')
    .requiredOption('--output-file <file>', 'the bundle to write (refused if it exists)')
    .option('--prefix <prefix>', 'only secrets whose names start with this')
    .option('--passphrase-file <file>', 'the passphrase (default COFFER_BUNDLE_PASSPHRASE)')
    .action(async (flags: { outputFile: string; prefix?: string; passphraseFile?: string }, command: Command) => {
      const phrase = await passphrase(flags.passphraseFile);
      const progress = progressOf(command, 'exporting');
      const content = await progress.run(
        (p) => collectBundle(client(command), flags.prefix ?? '', p),
        (c) => `${c.secrets.length} secret(s)`,
      );
      const sealed = await sealBundle(content, phrase);
      await writeFile(flags.outputFile, sealed, { flag: 'wx', mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(
          err.code === 'EEXIST'
            ? `${flags.outputFile} exists: choose another file`
            : `cannot write ${flags.outputFile}: ${err.code}`,
          ExitCode.usage,
        );
      });
      const versions = content.secrets.reduce((n, s) => n + s.versions.length, 0);
      const answer = { file: flags.outputFile, secrets: content.secrets.length, versions };
      print(command, answer, () => `exported ${answer.secrets} secret(s), ${versions} version(s) to ${answer.file}`);
    });
}
