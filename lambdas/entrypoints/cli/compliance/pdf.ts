import type { ComplianceReport } from '../../../api/compliance.ts';
import { type Bar, cellText, countBars, formatValue, percentBars, statusColour } from './report-view.ts';

/** How many detail rows the PDF prints per metric; the JSON, CSV and HTML carry them all. */
export const PDF_DETAIL_ROWS = 25;

const MARGIN = 48;
const LABEL_WIDTH = 190;
const BAR_WIDTH = 230;
const BAR_HEIGHT = 13;
const ROW_HEIGHT = 19;

/**
 * The report as a PDF (A4, pdfkit's built-in Helvetica): a summary table with status colours, two vector bar charts
 * (the shares out of 100, and the counts), then each metric with its definition and up to {@link PDF_DETAIL_ROWS}
 * detail rows. pdfkit is loaded here only, so no other command pays for it.
 */
export async function compliancePdf(report: ComplianceReport): Promise<Buffer> {
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    info: {
      Title: 'Coffer compliance report',
      Subject: `${report.window.since} to ${report.window.until}`,
      Creator: 'coffer compliance report',
      CreationDate: new Date(report.generatedAt),
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const width = doc.page.width - 2 * MARGIN;
  const ensure = (height: number) => {
    if (doc.y + height > doc.page.height - MARGIN) doc.addPage();
  };

  doc.font('Helvetica-Bold').fontSize(18).fillColor('#1f2328').text('Coffer compliance report');
  doc
    .font('Helvetica')
    .fontSize(10)
    .fillColor('#59636e')
    .text(`Window ${report.window.since} to ${report.window.until}; generated ${report.generatedAt}.`);
  doc.moveDown();

  // ---- summary -------------------------------------------------------------------------------------------------
  doc.font('Helvetica-Bold').fontSize(13).fillColor('#1f2328').text('Summary');
  doc.moveDown(0.3);
  for (const m of report.metrics) {
    ensure(ROW_HEIGHT);
    const y = doc.y;
    doc.font('Helvetica').fontSize(10).fillColor('#1f2328').text(m.title, MARGIN, y, { width: 230, lineBreak: false });
    doc.text(formatValue(m), MARGIN + 240, y, { width: 90, align: 'right', lineBreak: false });
    doc.rect(MARGIN + 345, y - 1, 62, 13).fill(statusColour(m.status));
    doc
      .fillColor('#ffffff')
      .font('Helvetica-Bold')
      .text(m.status, MARGIN + 345, y + 1, { width: 62, align: 'center' });
    doc.x = MARGIN;
    doc.y = y + ROW_HEIGHT - 2;
  }

  // ---- charts ----------------------------------------------------------------------------------------------------
  chart(doc, 'Shares (percent)', percentBars(report), ensure);
  chart(doc, 'Counts', countBars(report), ensure);

  // ---- each metric -----------------------------------------------------------------------------------------------
  doc.addPage();
  doc.font('Helvetica-Bold').fontSize(13).fillColor('#1f2328').text('Metrics', MARGIN);
  for (const m of report.metrics) {
    ensure(80);
    doc.moveDown(0.6);
    doc
      .font('Helvetica-Bold')
      .fontSize(11)
      .fillColor('#1f2328')
      .text(`${m.title}: ${formatValue(m)} (${m.status})`, MARGIN);
    doc.font('Helvetica').fontSize(9).fillColor('#59636e').text(m.definition, MARGIN, doc.y, { width });
    const details = m.details ?? [];
    if (details.length === 0) continue;
    doc.moveDown(0.3).fillColor('#1f2328').fontSize(8.5);
    for (const row of details.slice(0, PDF_DETAIL_ROWS)) {
      ensure(14);
      // Each row its own fields: rows of one metric may differ (the audit's chains, summary and gaps).
      const fields = Object.entries(row).map(([key, value]) => `${key}: ${cellText(value)}`);
      doc.text(fields.join('   '), MARGIN + 8, doc.y, { width: width - 8 });
    }
    if (details.length > PDF_DETAIL_ROWS) {
      doc
        .fillColor('#59636e')
        .text(`… and ${details.length - PDF_DETAIL_ROWS} more (see the JSON, CSV or HTML report)`);
    }
  }
  doc.end();
  return done;
}

function chart(doc: PDFKit.PDFDocument, caption: string, bars: readonly Bar[], ensure: (height: number) => void): void {
  if (bars.length === 0) return;
  ensure(bars.length * ROW_HEIGHT + 40);
  doc.moveDown();
  doc.font('Helvetica-Bold').fontSize(13).fillColor('#1f2328').text(caption, MARGIN);
  doc.moveDown(0.3);
  let y = doc.y;
  for (const bar of bars) {
    doc.font('Helvetica').fontSize(9).fillColor('#1f2328');
    doc.text(bar.label, MARGIN, y + 2, { width: LABEL_WIDTH - 8, align: 'right', lineBreak: false });
    doc.rect(MARGIN + LABEL_WIDTH, y, BAR_WIDTH, BAR_HEIGHT).fill('#eaeef2');
    if (bar.fraction > 0)
      doc.rect(MARGIN + LABEL_WIDTH, y, Math.max(2, bar.fraction * BAR_WIDTH), BAR_HEIGHT).fill(bar.colour);
    doc.fillColor('#1f2328').text(bar.text, MARGIN + LABEL_WIDTH + BAR_WIDTH + 6, y + 2, { lineBreak: false });
    y += ROW_HEIGHT;
  }
  doc.x = MARGIN;
  doc.y = y;
}
