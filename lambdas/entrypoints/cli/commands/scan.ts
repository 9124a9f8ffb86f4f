import { type Command, Option } from 'commander';
import packageJson from '../../../../package.json' with { type: 'json' };
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { globals } from '../io.ts';
import { readBaseline, writeBaseline } from '../scan/baseline.ts';
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
    .action(async (paths: string[], flags: Record<string, unknown>, command: Command) => {
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

/** `1048576`, `512k`, `2m` (powers of 1024). */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (match === null)
    throw new CliError(`--max-size must be a number of bytes, or with k or m: ${text}`, ExitCode.usage);
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1;
  return Number(match[1]) * factor;
}
