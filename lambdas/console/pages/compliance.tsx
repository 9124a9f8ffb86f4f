import { useState } from 'preact/hooks';
import { type ComplianceMetric, ComplianceReport } from '../../api/compliance.ts';
import { formatTime, PageHeading, type PageProps, Select, useLoad } from '../components.tsx';

// The first choice sends no window: the server's own (30 days on a local node; on AWS the one window its compliance
// function computes, the only one the broker there answers).
const WINDOWS = [
  ['', "the server's (30 days; on AWS, the deployment's)"],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
  ['90d', 'last 90 days'],
] as const;

/** Width of a metric's bar in the chart's 0–100 scale: shares as they are, counts and times against the largest. */
function barShare(metric: ComplianceMetric, largest: ReadonlyMap<string, number>): number {
  if (metric.value === null) return 0;
  if (metric.unit === 'percent') return Math.min(100, Math.max(0, metric.value));
  if (metric.unit === 'ratio') return Math.min(100, Math.max(0, metric.value * 100));
  const top = largest.get(metric.unit) ?? 0;
  return top <= 0 ? 0 : (metric.value / top) * 100;
}

export function formatValue(metric: ComplianceMetric): string {
  if (metric.value === null) return 'n/a';
  switch (metric.unit) {
    case 'percent':
      return `${metric.value.toFixed(1)}%`;
    case 'ratio':
      return `${(metric.value * 100).toFixed(1)}%`;
    case 'seconds':
      return metric.value >= 3600 ? `${(metric.value / 3600).toFixed(1)} h` : `${Math.round(metric.value)} s`;
    default:
      return String(metric.value);
  }
}

const ROW = 28;
const LABEL = 260;
const BAR = 300;

/** The report as one horizontal bar per metric, in inline SVG: no chart library, no inline style, CSP-clean. */
function ComplianceChart(props: { readonly metrics: readonly ComplianceMetric[] }) {
  const largest = new Map<string, number>();
  for (const m of props.metrics) {
    if (m.value !== null) largest.set(m.unit, Math.max(largest.get(m.unit) ?? 0, m.value));
  }
  const height = props.metrics.length * ROW + 8;
  return (
    <svg
      class="chart"
      role="img"
      aria-labelledby="compliance-chart-title"
      viewBox={`0 0 ${LABEL + BAR + 110} ${height}`}
      width={LABEL + BAR + 110}
      height={height}
    >
      <title id="compliance-chart-title">Compliance figures as bars (the table below has every value)</title>
      {props.metrics.map((m, i) => {
        const y = i * ROW + 4;
        const width = (barShare(m, largest) / 100) * BAR;
        return (
          <g key={m.id} class={`bar bar-${m.status}`}>
            <text x={0} y={y + 17} class="bar-label">
              {m.title}
            </text>
            <rect x={LABEL} y={y + 4} width={BAR} height={ROW - 10} class="bar-track" />
            <rect x={LABEL} y={y + 4} width={width} height={ROW - 10} class="bar-fill" data-metric={m.id} />
            <text x={LABEL + BAR + 8} y={y + 17} class="bar-value">
              {formatValue(m)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export function CompliancePage({ api }: PageProps) {
  const [since, setSince] = useState('');
  const report = useLoad(
    () => api.call('/v1/sys/compliance', ComplianceReport, { query: since === '' ? {} : { since } }),
    [since],
  );
  const data = report.data;
  return (
    <section aria-labelledby="compliance-heading">
      <PageHeading>
        <span id="compliance-heading">Compliance</span>
      </PageHeading>
      <div class="card">
        <div class="toolbar">
          <Select id="compliance-since" label="Window" value={since} options={WINDOWS} onChange={setSince} />
          <button type="button" onClick={report.reload}>
            Refresh report
          </button>
        </div>
        {report.error === undefined ? null : <p class="error">{report.error}</p>}
        {data === undefined ? null : (
          <>
            <p>
              From {formatTime(data.window.since)} to {formatTime(data.window.until)}; generated{' '}
              {formatTime(data.generatedAt)}.
            </p>
            <ComplianceChart metrics={data.metrics} />
            <table class="metrics">
              <caption>Figures and their definitions</caption>
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  <th scope="col">Value</th>
                  <th scope="col">Status</th>
                  <th scope="col">Definition</th>
                </tr>
              </thead>
              <tbody>
                {data.metrics.map((m) => (
                  <tr key={m.id} data-metric={m.id}>
                    <th scope="row">{m.title}</th>
                    <td class="metric-value">{formatValue(m)}</td>
                    <td>
                      <span class={`badge badge-${m.status}`}>{m.status}</span>
                    </td>
                    <td>
                      {m.definition}
                      {m.details === undefined || m.details.length === 0 ? null : (
                        <details>
                          <summary>{m.details.length} detail row(s)</summary>
                          <ul>
                            {m.details.map((row, i) => (
                              <li key={i}>
                                {Object.entries(row)
                                  .map(([k, v]) => `${k}: ${String(v)}`)
                                  .join(', ')}
                              </li>
                            ))}
                          </ul>
                        </details>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </div>
    </section>
  );
}
