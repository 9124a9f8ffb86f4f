import { columns } from '../../io.ts';
import type { FixReport, FixResult } from './fix.ts';

/** One row per secret moved: where, which name, what the import did and what became of the file. */
export function formatFixTable(report: FixReport): string {
  const rows = report.results.map((r) => [
    `${r.path}:${r.line}`,
    r.key ?? '',
    r.name === '' ? '?' : r.name,
    r.imported ?? '-',
    r.outcome,
    r.reason ?? (r.outcome === 'manual' ? '' : (r.reference ?? '')),
  ]);
  return columns([['WHERE', 'KEY', 'SECRET', 'IMPORT', 'FILE', 'NOTE'], ...rows]);
}

export function formatFixSummary(report: FixReport, dryRun: boolean): string {
  const count = (outcome: FixResult['outcome']) => report.results.filter((r) => r.outcome === outcome).length;
  const moved = report.results.length - count('failed');
  const head = dryRun
    ? `dry run: ${moved} of ${report.results.length} secrets would be moved into Coffer`
    : `${moved} of ${report.results.length} secrets moved into Coffer`;
  return (
    `${head}; ${report.written.length} ${report.written.length === 1 ? 'file' : 'files'} rewritten, ` +
    `${count('proposed')} replacements proposed, ${count('manual')} left to you, ${count('failed')} failed\n`
  );
}

/** How to use what the fix wrote, and the one thing a fix cannot do: unsee a secret that was committed. */
export function formatNextSteps(report: FixReport): string {
  const lines: string[] = [];
  const ok = report.results.filter((r) => r.outcome !== 'failed');
  const envFiles = [...new Set(ok.filter((r) => r.kind === 'dotenv').map((r) => r.path))];
  for (const file of envFiles)
    lines.push(`run with the references resolved: coffer run --env-file ${file} -- <command>`);
  const templates = [...new Set(ok.filter((r) => r.kind === 'template').map((r) => r.path))];
  if (templates.length > 0) {
    const config = templates.map((source) => ({ source, destination: `<where your program reads ${source}>` }));
    lines.push(
      `render the templates with the agent (coffer agent --config F): {"templates": ${JSON.stringify(config)}}`,
    );
  }
  for (const r of ok.filter((r) => r.outcome === 'manual')) {
    lines.push(
      `${r.path}:${r.line}: read it from the environment and run with coffer run ${r.reference ?? ''} -- <command>`,
    );
  }
  if (report.results.length > 0) {
    lines.push(
      'these secrets were written in plain text: if they were ever committed they stay in the git history and every ' +
        'clone, which no fix can change; rotate them at their issuer (coffer scan --git-history lists them)',
    );
  }
  return lines.map((line) => `${line}\n`).join('');
}
