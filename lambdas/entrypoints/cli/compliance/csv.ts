import type { ComplianceReport } from '../../../api/compliance.ts';
import { cellText } from './report-view.ts';

/**
 * The report as one CSV table (RFC 4180: CRLF line ends, every field that holds a comma, quote or line break quoted,
 * quotes doubled), every row with the same columns so any tool loads it: a `metric` row per figure, then a `detail`
 * row per field of each detail (`row` numbers the detail within its metric).
 *
 * Names in the report are chosen by callers (secret names, display names), so a text cell that a spreadsheet would
 * run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'` (OWASP's CSV injection advice).
 */
export const CSV_COLUMNS = [
  'section',
  'metric',
  'title',
  'value',
  'unit',
  'status',
  'definition',
  'row',
  'field',
  'field_value',
] as const;

export function complianceCsv(report: ComplianceReport): string {
  const rows: (string | number | null)[][] = [[...CSV_COLUMNS]];
  rows.push([
    'window',
    '',
    `${report.window.since} to ${report.window.until}`,
    '',
    '',
    '',
    `generated ${report.generatedAt}`,
    '',
    '',
    '',
  ]);
  for (const m of report.metrics) {
    rows.push(['metric', m.id, m.title, m.value, m.unit, m.status, m.definition, '', '', '']);
  }
  for (const m of report.metrics) {
    (m.details ?? []).forEach((detail, index) => {
      for (const [field, value] of Object.entries(detail)) {
        rows.push([
          'detail',
          m.id,
          m.title,
          '',
          '',
          '',
          '',
          index + 1,
          field,
          typeof value === 'number' ? value : cellText(value),
        ]);
      }
    });
  }
  return `${rows.map((row) => row.map(field).join(',')).join('\r\n')}\r\n`;
}

function field(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
