import type { ComplianceReport } from '../../../api/compliance.ts';
import { type Bar, cellText, countBars, detailColumns, formatValue, percentBars, statusColour } from './report-view.ts';

/**
 * The report as one self-contained HTML page: inline CSS, inline SVG bar charts, no script and nothing fetched (its
 * Content-Security-Policy allows inline styles only, so a name that slipped through escaping could not run or load
 * anything). Every text from the report is escaped: secret names and display names are chosen by callers.
 */
export function complianceHtml(report: ComplianceReport): string {
  const title = `Coffer compliance report, ${day(report.window.since)} to ${day(report.window.until)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 24px; max-width: 1100px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
p.meta { color: #59636e; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d1d9e0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { display: inline-block; min-width: 64px; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; text-align: center; }
.definition { color: #59636e; max-width: 900px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">Window ${esc(report.window.since)} to ${esc(report.window.until)}; generated ${esc(report.generatedAt)}.</p>
<h2>Summary</h2>
<table>
<thead><tr><th>Metric</th><th>Value</th><th>Status</th></tr></thead>
<tbody>
${report.metrics
  .map(
    (m) =>
      `<tr><td><a href="#${esc(m.id)}">${esc(m.title)}</a></td><td class="num">${esc(formatValue(m))}</td><td>${badge(m.status)}</td></tr>`,
  )
  .join('\n')}
</tbody>
</table>
<h2>Charts</h2>
<div class="charts">
${chart('Shares (percent)', 'chart-percent', percentBars(report))}
${chart('Counts', 'chart-counts', countBars(report))}
</div>
<h2>Metrics</h2>
${report.metrics.map(section).join('\n')}
</body>
</html>
`;
}

function section(m: ComplianceReport['metrics'][number]): string {
  const details = m.details ?? [];
  const columns = detailColumns(details);
  const table =
    details.length === 0
      ? ''
      : `<table>
<thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>
<tbody>
${details.map((row) => `<tr>${columns.map((c) => cell(row[c])).join('')}</tr>`).join('\n')}
</tbody>
</table>`;
  return `<section id="${esc(m.id)}">
<h3>${esc(m.title)}: ${esc(formatValue(m))} ${badge(m.status)}</h3>
<p class="definition">${esc(m.definition)}</p>
${table}
</section>`;
}

function cell(value: unknown): string {
  return typeof value === 'number' ? `<td class="num">${esc(String(value))}</td>` : `<td>${esc(cellText(value))}</td>`;
}

function badge(status: string): string {
  return `<span class="status" style="background:${statusColour(status)}">${esc(status)}</span>`;
}

const LABEL_WIDTH = 220;
const BAR_WIDTH = 260;
const ROW_HEIGHT = 26;

/** A horizontal bar chart: one labelled bar per figure, coloured by its status, the figure written after it. */
function chart(caption: string, id: string, bars: readonly Bar[]): string {
  if (bars.length === 0) return '';
  const width = LABEL_WIDTH + BAR_WIDTH + 80;
  const height = bars.length * ROW_HEIGHT + 8;
  const rows = bars
    .map((bar, i) => {
      const y = 4 + i * ROW_HEIGHT;
      const length = Math.max(bar.fraction * BAR_WIDTH, bar.fraction > 0 ? 2 : 0);
      return [
        `<text x="${LABEL_WIDTH - 8}" y="${y + 16}" text-anchor="end" font-size="12">${esc(bar.label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${BAR_WIDTH}" height="18" fill="#eaeef2"/>`,
        `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${length.toFixed(1)}" height="18" fill="${bar.colour}"/>`,
        `<text x="${LABEL_WIDTH + BAR_WIDTH + 6}" y="${y + 16}" font-size="12">${esc(bar.text)}</text>`,
      ].join('');
    })
    .join('\n');
  return `<figure id="${id}">
<figcaption>${esc(caption)}</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(caption)}">
${rows}
</svg>
</figure>`;
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
