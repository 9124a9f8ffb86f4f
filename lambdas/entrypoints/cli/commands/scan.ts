import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { type Command, Option } from 'commander';
import packageJson from '../../../../package.json' with { type: 'json' };
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { ConflictPolicy } from '../import/importer.ts';
import { client, globals, print } from '../io.ts';
import { progressOf } from '../progress.ts';
import { readBaseline, writeBaseline } from '../scan/baseline.ts';
import { applyFixes, planFixes } from '../scan/fix/fix.ts';
import { DEFAULT_FIX_TEMPLATE } from '../scan/fix/naming.ts';
import { formatFixSummary, formatFixTable, formatNextSteps } from '../scan/fix/output.ts';
import { formatJson, formatSarif, formatSummary, formatText, type ScanFormat } from '../scan/report.ts';
import { scan } from '../scan/scan.ts';

/** 1 MiB: larger files are rarely hand-written, and secrets are hand-written into files. */
const DEFAULT_MAX_SIZE = 1024 * 1024;

export function registerScanCommand(program: Command): void {
  program
    .command('scan')
    .description(
      'find hardcoded secrets in files or git history; exit code 1 if any is found (not in the baseline), 0 if none, ' +
        '2 on bad usage. Runs locally: no server needed',
    )
    .argument('[paths...]', 'files and folders to scan (default: the current folder); .gitignore is honoured in git')
    .option('--git-history', 'scan every blob reachable in the git history instead of the files')
    .option('--staged', 'scan only the lines staged for commit (for a pre-commit hook)')
    .addOption(
      new Option('--format <format>', 'text, json or sarif (default: json with -o json, else text)').choices([
        'text',
        'json',
        'sarif',
      ]),
    )
    .option('--baseline <file>', 'a baseline of accepted findings; they are not reported')
    .option('--write-baseline <file>', 'write every finding of this scan to a baseline file, and exit 0')
    .option('--max-size <size>', 'skip files larger than this (bytes, or with k/m: 512k, 2m)', '1m')
    .option(
      '--fix',
      'import each secret found into Coffer (as you: COFFER_TOKEN) and propose references in its place, as a diff',
    )
    .option('--prefix <prefix>', '--fix: put before every secret name, e.g. "apps/billing/"')
    .option(
      '--name-template <template>',
      `--fix: name from {{key}} {{file}} {{source}} {{line}} (default ${DEFAULT_FIX_TEMPLATE})`,
    )
    .addOption(
      new Option('--on-conflict <policy>', '--fix: when the secret exists with another value (default skip)').choices([
        'skip',
        'overwrite',
        'new-version',
      ]),
    )
    .option('--dry-run', '--fix: import nothing, write nothing; show the plan and the diff')
    .option('--write', '--fix: rewrite the files once their secrets are in Coffer')
    .option('--yes', '--fix --write: do not ask for confirmation')
    .option('--patch-file <file>', '--fix: write the diff (secrets redacted) to this file instead of stdout')
    .action(async (paths: string[], flags: Record<string, unknown>, command: Command) => {
      checkFixFlags(flags);
      if (flags.gitHistory === true && flags.staged === true) {
        throw new CliError('--git-history and --staged cannot be combined', ExitCode.usage);
      }
      if ((flags.gitHistory === true || flags.staged === true) && paths.length > 0) {
        throw new CliError('paths cannot be given with --git-history or --staged', ExitCode.usage);
      }
      const format = (flags.format as ScanFormat | undefined) ?? (globals(command).output === 'json' ? 'json' : 'text');
      const baseline = typeof flags.baseline === 'string' ? await readBaseline(flags.baseline) : new Set<string>();
      const report = await scan({
        paths: paths.length === 0 ? ['.'] : paths,
        gitHistory: flags.gitHistory === true,
        staged: flags.staged === true,
        maxBytes: parseSize(String(flags.maxSize ?? DEFAULT_MAX_SIZE)),
        baseline,
        cwd: process.cwd(),
      });
      if (flags.fix === true) {
        await fix(command, flags, report.findings, formatSummary(report));
        return;
      }
      const output =
        format === 'sarif'
          ? formatSarif(report, packageJson.version, process.cwd())
          : format === 'json'
            ? formatJson(report)
            : formatText(report);
      process.stdout.write(output);
      if (command.optsWithGlobals<{ quiet?: boolean }>().quiet !== true) process.stderr.write(formatSummary(report));
      if (typeof flags.writeBaseline === 'string') {
        await writeBaseline(flags.writeBaseline, report.all);
        process.stderr.write(`wrote ${flags.writeBaseline}: every finding of this scan is now accepted\n`);
        return;
      }
      if (report.findings.length > 0) process.exitCode = ExitCode.failure;
    });
}

const FIX_ONLY = ['prefix', 'nameTemplate', 'onConflict', 'dryRun', 'write', 'yes', 'patchFile'] as const;
const FLAG_NAMES: Record<(typeof FIX_ONLY)[number], string> = {
  prefix: '--prefix',
  nameTemplate: '--name-template',
  onConflict: '--on-conflict',
  dryRun: '--dry-run',
  write: '--write',
  yes: '--yes',
  patchFile: '--patch-file',
};

function checkFixFlags(flags: Record<string, unknown>): void {
  if (flags.fix !== true) {
    const given = FIX_ONLY.filter((flag) => flags[flag] !== undefined);
    if (given.length > 0) throw new CliError(`${FLAG_NAMES[given[0]!]} needs --fix`, ExitCode.usage);
    return;
  }
  if (flags.gitHistory === true || flags.staged === true) {
    throw new CliError(
      '--fix replaces secrets in the files of the work tree; a secret in the git history cannot be replaced, only ' +
        'rotated: revoke it at its issuer (every clone keeps the old one)',
      ExitCode.usage,
    );
  }
  if (flags.writeBaseline !== undefined)
    throw new CliError('--fix and --write-baseline cannot be combined', ExitCode.usage);
  if (flags.format === 'sarif') throw new CliError('--fix answers in text or json, not sarif', ExitCode.usage);
  if (flags.write === true && flags.dryRun === true) {
    throw new CliError('--dry-run writes nothing: drop --write or --dry-run', ExitCode.usage);
  }
  if (flags.write === true && flags.yes !== true && !canAsk()) {
    throw new CliError('--write changes files: confirm with --yes (there is no terminal to ask on)', ExitCode.usage);
  }
}

const canAsk = () => process.stdin.isTTY === true && process.stderr.isTTY === true;

async function fix(
  command: Command,
  flags: Record<string, unknown>,
  findings: Parameters<typeof planFixes>[0],
  scanned: string,
) {
  const quiet = command.optsWithGlobals<{ quiet?: boolean }>().quiet === true;
  if (!quiet) process.stderr.write(scanned);
  if (findings.length === 0) {
    answer(command, flags, { results: [], diff: '', written: [] }, () => 'nothing to fix');
    return;
  }
  const options = {
    prefix: typeof flags.prefix === 'string' ? flags.prefix : '',
    nameTemplate: typeof flags.nameTemplate === 'string' ? flags.nameTemplate : DEFAULT_FIX_TEMPLATE,
    onConflict: (flags.onConflict as ConflictPolicy | undefined) ?? 'skip',
    dryRun: flags.dryRun === true,
    write: flags.write === true,
    cwd: process.cwd(),
  };
  const plans = await planFixes(findings, options);
  if (options.write && flags.yes !== true) {
    const rewritable = plans.filter((plan) => plan.items.some((item) => item.replacement !== undefined)).length;
    await confirm(rewritable, findings.length);
  }
  const progress = progressOf(command, options.dryRun ? 'planning' : 'importing');
  const report = await progress.run(
    (p) => applyFixes(client(command), plans, options, p),
    (done) => `${done.results.length} secret(s)`,
  );
  if (typeof flags.patchFile === 'string') {
    await writeFile(flags.patchFile, report.diff, { mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot write ${flags.patchFile}: ${err.code ?? 'error'}`, ExitCode.failure);
    });
  }
  const diffShown = typeof flags.patchFile === 'string' ? '' : report.diff;
  answer(command, flags, report, () =>
    diffShown === '' ? formatFixTable(report) : `${formatFixTable(report)}\n\n${diffShown}`,
  );
  if (!quiet) process.stderr.write(formatFixSummary(report, options.dryRun) + formatNextSteps(report));
  if (report.results.some((r) => r.outcome === 'failed' || r.outcome === 'manual')) process.exitCode = ExitCode.failure;
}

/** The fix's answer: JSON with `--format json` as with `-o json`, else the table. */
function answer(command: Command, flags: Record<string, unknown>, value: unknown, table: () => string): void {
  if (flags.format === 'json') process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else print(command, value, table);
}

/** `--write` changes files: asked on a terminal (without one, `checkFixFlags` wants `--yes`). */
async function confirm(files: number, secrets: number): Promise<void> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(
      `import ${secrets} secret(s) into Coffer and rewrite up to ${files} file(s)? [y/N] `,
    );
    if (!/^y(es)?$/i.test(answer.trim()))
      throw new CliError('not confirmed: nothing imported, no file changed', ExitCode.failure);
  } finally {
    prompt.close();
  }
}

/** `1048576`, `512k`, `2m` (powers of 1024). */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (match === null)
    throw new CliError(`--max-size must be a number of bytes, or with k or m: ${text}`, ExitCode.usage);
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1;
  return Number(match[1]) * factor;
}
