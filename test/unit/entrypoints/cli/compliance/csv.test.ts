import { describe, expect, it } from 'vitest';
import type { ComplianceReport } from '../../../../../lambdas/api/compliance.ts';
import { complianceCsv } from '../../../../../lambdas/entrypoints/cli/compliance/csv.ts';
import { complianceHtml } from '../../../../../lambdas/entrypoints/cli/compliance/html.ts';
import { formatValue } from '../../../../../lambdas/entrypoints/cli/compliance/report-view.ts';

const report = (names: string[]): ComplianceReport => ({
  generatedAt: '2026-02-10T00:00:00.000Z',
  window: { since: '2026-01-11T00:00:00.000Z', until: '2026-02-10T00:00:00.000Z' },
  metrics: [
    {
      id: 'secrets_without_owner',
      title: 'Secrets without an owner',
      definition: 'Live secrets without an "owner" tag, counted now.',
      value: names.length,
      unit: 'count',
      status: 'warning',
      details: names.map((name) => ({ name })),
    },
  ],
});

describe('complianceCsv', () => {
  it('quotes commas, quotes and line breaks (RFC 4180), with CRLF line ends', () => {
    const csv = complianceCsv(report(['a,b', 'say "hi"', 'two\nlines']));
    expect(csv).toContain('"Live secrets without an ""owner"" tag, counted now."');
    expect(csv).toContain(',1,name,"a,b"\r\n');
    expect(csv).toContain(',2,name,"say ""hi"""\r\n');
    expect(csv).toContain(',3,name,"two\nlines"\r\n');
    expect(csv.split('\r\n').at(-1)).toBe('');
  });

  it('defuses cells a spreadsheet would run as formulas', () => {
    const csv = complianceCsv(report(['=HYPERLINK("http://evil")', '+1', '-2', '@SUM(A1)', 'plain']));
    expect(csv).toContain(`,1,name,"'=HYPERLINK(""http://evil"")"\r\n`);
    expect(csv).toContain(",2,name,'+1\r\n");
    expect(csv).toContain(",3,name,'-2\r\n");
    expect(csv).toContain(",4,name,'@SUM(A1)\r\n");
    expect(csv).toContain(',5,name,plain\r\n');
    // Numbers are numbers, never prefixed.
    expect(csv).toContain('metric,secrets_without_owner,Secrets without an owner,5,count,warning,');
  });
});

describe('complianceHtml', () => {
  it('draws no chart for figures without a value and writes "n/a"', () => {
    const empty = report([]);
    empty.metrics[0] = { ...empty.metrics[0]!, value: null, status: 'unknown', details: [] };
    const html = complianceHtml(empty);
    expect(html).not.toContain('id="chart-counts"');
    expect(html).toContain('<td class="num">n/a</td>');
  });
});

describe('formatValue', () => {
  it('reads percent, counts, seconds and a missing figure for people', () => {
    expect(formatValue({ value: 92.3, unit: 'percent' })).toBe('92.3 %');
    expect(formatValue({ value: 100, unit: 'percent' })).toBe('100 %');
    expect(formatValue({ value: 4, unit: 'count' })).toBe('4');
    expect(formatValue({ value: 42.5, unit: 'seconds' })).toBe('42.5 s');
    expect(formatValue({ value: 5400, unit: 'seconds' })).toBe('1h 30m');
    expect(formatValue({ value: 90, unit: 'seconds' })).toBe('1m 30s');
    expect(formatValue({ value: null, unit: 'count' })).toBe('n/a');
  });
});
