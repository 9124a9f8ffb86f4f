import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { ComplianceReport } from '../../../api/compliance.ts';
import { complianceCsv } from '../compliance/csv.ts';
import { complianceHtml } from '../compliance/html.ts';
import { formatValue } from '../compliance/report-view.ts';
import { client, globals, listTable } from '../io.ts';

const FORMATS = ['table', 'json', 'csv', 'html', 'pdf'] as const;
type Format = (typeof FORMATS)[number];

interface ReportFlags {
  since?: string;
  format?: string;
  file?: string;
}

const REPORT_HELP = `
Formats (rendered here, from the server's JSON answer):
  table  a summary on the terminal (the default; -o json prints the JSON)
  json   the answer of GET /v1/sys/compliance as it is
  csv    one table: a row per metric, then a row per detail field (RFC 4180)
  html   one self-contained page with inline SVG charts, no script
  pdf    A4 with vector charts (needs --file, or stdout that is not a terminal)

Exit codes: 0 when the report was written, whatever its figures say; 4 when
the token may not read sys/compliance.
`;

/** `coffer compliance report`: the figures an audit asks for (docs/compliance.md). */
export function registerComplianceCommands(program: Command): void {
  const compliance = program.command('compliance').description('the compliance report (docs/compliance.md)');
  compliance
    .command('report')
    .description('rotation, audit completeness, denials, logins, tokens, stale and expiring items, with definitions')
    // No default here: the server's is the right one, 30d on a local node and, on AWS, the one window its compliance
    // function computes (any other is refused there).
    .option(
      '--since <window>',
      "how far back: a duration (30d, 12h) or an ISO-8601 instant (default: the server's, 30d; on AWS its window)",
    )
    .option('--format <format>', `${FORMATS.join('|')}`)
    .option('--file <path>', 'write the report to this file (mode 0600: it names secrets and principals)')
    .addHelpText('after', REPORT_HELP)
    .action(async (flags: ReportFlags, command: Command) => {
      const format = formatOf(flags.format, command);
      const answer = await client(command).call<unknown>('GET', '/v1/sys/compliance', {
        query: { since: flags.since },
      });
      const report = ComplianceReport.parse(answer);
      const rendered = await render(report, format);
      if (flags.file !== undefined) {
        await writeFile(flags.file, rendered, { mode: 0o600 });
        process.stderr.write(`wrote ${flags.file}\n`);
        return;
      }
      if (format === 'pdf' && process.stdout.isTTY) {
        throw new CliError('a PDF is not for a terminal: give --file <path> or redirect stdout', ExitCode.usage);
      }
      process.stdout.write(rendered);
    });
}

function formatOf(flag: string | undefined, command: Command): Format {
  if (flag === undefined) return globals(command).output === 'json' ? 'json' : 'table';
  if (!(FORMATS as readonly string[]).includes(flag)) {
    throw new CliError(`--format must be one of ${FORMATS.join(', ')}`, ExitCode.usage);
  }
  return flag as Format;
}

async function render(report: ComplianceReport, format: Format): Promise<string | Buffer> {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return complianceCsv(report);
    case 'html':
      return complianceHtml(report);
    case 'pdf': {
      // pdfkit is loaded for this format only.
      const { compliancePdf } = await import('../compliance/pdf.ts');
      return compliancePdf(report);
    }
    default:
      return `window  ${report.window.since} to ${report.window.until}\n\n${listTable(
        ['METRIC', 'VALUE', 'STATUS'],
        report.metrics.map((m) => [m.id, formatValue(m), m.status]),
      )}\n`;
  }
}
