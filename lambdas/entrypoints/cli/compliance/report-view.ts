import type { ComplianceMetric, ComplianceReport } from '../../../api/compliance.ts';

/**
 * What every rendering of the compliance report shares: how a figure reads, the colour of a status, and which
 * figures the charts draw. Client side only: the server answers JSON and never renders.
 */

export type Status = ComplianceMetric['status'];

/** One colour per status, the same in HTML and PDF (and distinct enough to be told apart in a screenshot). */
export const STATUS_COLOURS: Readonly<Record<Status, string>> = {
  ok: '#1a7f37',
  warning: '#d4a72c',
  failing: '#cf222e',
  unknown: '#8c959f',
};

/** The colour of an unrecognised status (from a newer server): grey, like unknown. */
export function statusColour(status: string): string {
  return STATUS_COLOURS[status as Status] ?? STATUS_COLOURS.unknown;
}

/** A figure for people: `92.3 %`, `4`, `1m 30s`, `n/a` when there is none. */
export function formatValue(metric: Pick<ComplianceMetric, 'value' | 'unit'>): string {
  const { value, unit } = metric;
  if (value === null) return 'n/a';
  switch (unit) {
    case 'percent':
      return `${trim(value)} %`;
    case 'seconds':
      return seconds(value);
    case 'ratio':
      return trim(value);
    default:
      return String(value);
  }
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0$/, '');
}

function seconds(s: number): string {
  if (s < 60) return `${trim(s)} s`;
  const whole = Math.round(s);
  const [h, m, rest] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  return h > 0 ? `${h}h ${m}m` : `${m}m ${rest}s`;
}

/** A bar of a chart: its label, its length in 0..1 and its colour. */
export interface Bar {
  readonly label: string;
  readonly text: string;
  readonly fraction: number;
  readonly colour: string;
}

/** The percentages, each as a bar out of 100 (figures without a value are left out). */
export function percentBars(report: ComplianceReport): Bar[] {
  return report.metrics
    .filter((m) => m.unit === 'percent' && m.value !== null)
    .map((m) => ({
      label: m.title,
      text: formatValue(m),
      fraction: clamp((m.value ?? 0) / 100),
      colour: statusColour(m.status),
    }));
}

/** The counts, as bars against the largest of them. */
export function countBars(report: ComplianceReport): Bar[] {
  const counts = report.metrics.filter((m) => m.unit === 'count' && m.value !== null);
  const max = Math.max(1, ...counts.map((m) => m.value ?? 0));
  return counts.map((m) => ({
    label: m.title,
    text: formatValue(m),
    fraction: clamp((m.value ?? 0) / max),
    colour: statusColour(m.status),
  }));
}

function clamp(n: number): number {
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
}

/** The columns of a metric's details: every key, in the order first met. */
export function detailColumns(details: readonly Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const row of details) for (const key of Object.keys(row)) keys.add(key);
  return [...keys];
}

/** A detail cell as text: empty for null or absent. */
export function cellText(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}
