import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComplianceReport } from '../../../lambdas/api/compliance.ts';
import { CSV_COLUMNS, complianceCsv } from '../../../lambdas/entrypoints/cli/compliance/csv.ts';
import { complianceHtml } from '../../../lambdas/entrypoints/cli/compliance/html.ts';
import { compliancePdf } from '../../../lambdas/entrypoints/cli/compliance/pdf.ts';
import { STATUS_COLOURS } from '../../../lambdas/entrypoints/cli/compliance/report-view.ts';
import { seededComplianceNode } from '../../support/compliance-seed.ts';

/**
 * Issue 16: the seeded node's compliance report in every format the CLI writes, checked as a reader would see it:
 * the HTML rendered by Debian's chromium and its charts measured in the screenshot's pixels, the PDF rendered by
 * poppler (pages, colours) and read back as text, the CSV parsed back.
 */

type Rgb = readonly [number, number, number];
const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as unknown as Rgb;
const near = (a: Rgb, b: Rgb) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) <= 24;

/** How many pixels of each status colour an RGB(A) raster holds. */
function colourCounts(pixels: Uint8Array | Buffer, channels: 3 | 4): Record<keyof typeof STATUS_COLOURS, number> {
  const counts = { ok: 0, warning: 0, failing: 0, unknown: 0 };
  const targets = Object.entries(STATUS_COLOURS).map(([status, hex]) => [status, rgb(hex)] as const);
  for (let i = 0; i + 2 < pixels.length; i += channels) {
    const pixel: Rgb = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
    for (const [status, target] of targets) {
      if (near(pixel, target)) counts[status as keyof typeof counts] += 1;
    }
  }
  return counts;
}

/** A binary PPM (P6) as poppler writes it: the header, then RGB bytes. */
function readPpm(file: string): { width: number; height: number; pixels: Buffer } {
  const data = readFileSync(file);
  const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(data.subarray(0, 64).toString('latin1'));
  if (header === null) throw new Error(`${file} is not a binary PPM`);
  return { width: Number(header[1]), height: Number(header[2]), pixels: data.subarray(header[0].length) };
}

/** RFC 4180 fields back from CSV text (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

describe('The compliance report, rendered', () => {
  let report: ComplianceReport;
  let browser: Browser;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-compliance-render-'));

  beforeAll(async () => {
    const seed = await seededComplianceNode();
    try {
      report = ComplianceReport.parse((await seed.report()).body);
    } finally {
      await seed.close();
    }
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('CSV: one row per metric, every detail field, every row the same columns (RFC 4180)', () => {
    const csv = complianceCsv(report);
    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    for (const row of rows) expect(row).toHaveLength(CSV_COLUMNS.length);
    const metrics = rows.filter((r) => r[0] === 'metric');
    expect(metrics.map((r) => r[1])).toEqual(report.metrics.map((m) => m.id));
    const byId = Object.fromEntries(metrics.map((r) => [r[1], r]));
    expect(byId.rotation_compliance?.slice(3, 6)).toEqual(['50', 'percent', 'failing']);
    expect(byId.audit_completeness?.slice(3, 6)).toEqual(['92.3', 'percent', 'failing']);
    expect(byId.expired_secrets?.slice(3, 6)).toEqual(['0', 'count', 'ok']);
    // Definitions hold commas and quotes: quoted, and read back whole.
    expect(byId.stale_secrets?.[6]).toBe(report.metrics.find((m) => m.id === 'stale_secrets')?.definition);
    const overdue = rows.filter((r) => r[0] === 'detail' && r[1] === 'rotation_overdue');
    expect(overdue.map((r) => [r[7], r[8], r[9]])).toContainEqual(['1', 'name', 'app/overdue']);
    expect(overdue.map((r) => [r[8], r[9]])).toContainEqual(['overdueDays', '32.92']);
  });

  it('HTML: self-contained, no script, and chromium draws the charts with bars as long as the figures', async () => {
    const html = complianceHtml(report);
    expect(html).not.toMatch(/<script|javascript:|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    expect(html).toContain("default-src 'none'");
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.setContent(html, { waitUntil: 'load' });
    expect(requests.filter((url) => !url.startsWith('data:') && url !== 'about:blank')).toEqual([]);
    expect(await page.locator('h1').textContent()).toBe('Coffer compliance report, 2026-01-11 to 2026-02-10');
    expect(await page.locator('tbody tr').first().textContent()).toContain('Rotation compliance50 %failing');

    const percent = await page.locator('#chart-percent svg').screenshot();
    const counts = await page.locator('#chart-counts svg').screenshot();
    writeFileSync(path.join(dir, 'percent.png'), percent);
    await page.screenshot({ path: path.join(dir, 'page.png'), fullPage: true });
    // Decode the screenshots with chromium itself (a fresh page, no CSP) into RGBA pixels.
    const decoder = await browser.newPage();
    const decode = async (png: Buffer) => {
      // A script text: this file is compiled without the DOM's types, the page runs it with them.
      const rgba = (await decoder.evaluate(`(async () => {
        const image = new Image();
        image.src = 'data:image/png;base64,${png.toString('base64')}';
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext('2d');
        context.drawImage(image, 0, 0);
        return Array.from(context.getImageData(0, 0, image.width, image.height).data);
      })()`)) as number[];
      return Uint8Array.from(rgba);
    };
    const percentPixels = colourCounts(await decode(percent), 4);
    // Every share is failing: red bars only, 260 px long at 100 %, 18 px high.
    const shares = report.metrics.filter((m) => m.unit === 'percent' && m.value !== null);
    const expectedRed = shares.reduce((sum, m) => sum + ((m.value ?? 0) / 100) * 260 * 18, 0);
    expect(percentPixels.failing / expectedRed).toBeGreaterThan(0.97);
    expect(percentPixels.failing / expectedRed).toBeLessThan(1.03);
    expect(percentPixels.ok + percentPixels.warning).toBe(0);
    // Counts: overdue and expiring certificates failing, stale and ownerless warnings, denied principals ok.
    const countPixels = colourCounts(await decode(counts), 4);
    expect(countPixels.failing).toBeGreaterThan(0);
    expect(countPixels.warning).toBeGreaterThan(0);
    expect(countPixels.ok).toBeGreaterThan(0);
    // The largest count (3 principals) is the full bar; stale secrets (2) two thirds of it.
    expect(countPixels.ok).toBeGreaterThan(260 * 18 * 0.97);
    await page.close();
    await decoder.close();
  });

  it('HTML: escapes whatever a caller named, so a secret name cannot inject markup', async () => {
    const hostile = structuredClone(report);
    hostile.metrics.find((m) => m.id === 'secrets_without_owner')!.details = [
      { name: '<img src=x onerror=alert(1)><script>alert(2)</script>' },
    ];
    hostile.metrics[0]!.title = '"><svg onload=alert(3)>';
    const html = complianceHtml(hostile);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<svg onload');
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.setContent(html, { waitUntil: 'load' });
    expect(await page.locator('#secrets_without_owner td').first().textContent()).toBe(
      '<img src=x onerror=alert(1)><script>alert(2)</script>',
    );
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('PDF: two or more A4 pages, charts drawn in the status colours, every figure in its text', async () => {
    const pdf = await compliancePdf(report);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const file = path.join(dir, 'report.pdf');
    writeFileSync(file, pdf);
    execFileSync('pdftoppm', ['-r', '40', file, path.join(dir, 'page')]);
    const pages = readdirSync(dir)
      .filter((f) => /^page-\d+\.ppm$/.test(f))
      .sort();
    expect(pages.length).toBeGreaterThanOrEqual(2);
    const first = readPpm(path.join(dir, pages[0]!));
    // A4 at 40 dpi: 331 x 468.
    expect([first.width, first.height]).toEqual([331, 468]);
    const colours = colourCounts(first.pixels, 3);
    expect(colours.failing).toBeGreaterThan(500);
    expect(colours.warning).toBeGreaterThan(50);
    expect(colours.ok).toBeGreaterThan(50);
    expect(colours.unknown).toBeGreaterThan(10);
    for (const name of pages) {
      const { pixels } = readPpm(path.join(dir, name));
      const inked = pixels.filter((byte) => byte < 200).length;
      expect(inked, `${name} is blank`).toBeGreaterThan(1000);
    }

    const text = execFileSync('pdftotext', ['-layout', file, '-']).toString('utf8');
    for (const m of report.metrics) expect(text).toContain(m.title);
    for (const figure of ['50 %', '92.3 %', '46.16 %', '33.33 %', 'app/overdue', 'app/stale', '198.51.100.7']) {
      expect(text).toContain(figure);
    }
    expect(text).toContain('Window 2026-01-11T00:00:00.000Z to 2026-02-10T00:00:00.000Z');
  });
});
