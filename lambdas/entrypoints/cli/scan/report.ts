import path from 'node:path';
import sarifFormatter from '@secretlint/secretlint-formatter-sarif';
import type { SecretLintCoreResult } from '@secretlint/types';
import type { Finding } from './finding.ts';
import type { SourceStats } from './sources.ts';

export type ScanFormat = 'text' | 'json' | 'sarif';

export interface ScanReport {
  readonly findings: readonly Finding[];
  /** Findings left out because the baseline accepts them. */
  readonly baselined: number;
  readonly stats: SourceStats;
}

/** One line per finding, `path:line:col  rule  message`, as compilers and linters print them. */
export function formatText(report: ScanReport): string {
  return report.findings
    .map((finding) => {
      const where = `${finding.path}:${finding.line}:${finding.column}`;
      const commit = finding.commit === undefined ? '' : ` (commit ${finding.commit.slice(0, 12)})`;
      return `${where}${commit}  ${finding.ruleId}  ${finding.message}\n`;
    })
    .join('');
}

export function formatSummary(report: ScanReport): string {
  const { scanned, skippedBinary, skippedLarge } = report.stats;
  const count = report.findings.length;
  return (
    `${count} ${count === 1 ? 'secret' : 'secrets'} found in ${scanned} ${scanned === 1 ? 'file' : 'files'} scanned` +
    ` (${report.baselined} accepted by the baseline; skipped ${skippedBinary} binary, ${skippedLarge} too large)\n`
  );
}

export function formatJson(report: ScanReport): string {
  return `${JSON.stringify({ findings: report.findings, baselined: report.baselined, stats: report.stats }, null, 2)}\n`;
}

/** The `partialFingerprints` key code scanning matches results across runs by (`<name>/v<version>`). */
export const SARIF_FINGERPRINT_KEY = 'cofferSecret/v1';

interface SarifRule {
  id: string;
  shortDescription?: { text: string };
  fullDescription?: { text: string };
  help?: { text: string; markdown?: string };
  properties?: Record<string, unknown>;
  defaultConfiguration?: { level: string };
}
interface SarifResult {
  ruleId: string;
  partialFingerprints?: Record<string, string>;
  properties?: Record<string, unknown>;
}
interface SarifLog {
  runs: Array<{
    tool: { driver: { name: string; version?: string; informationUri?: string; rules: SarifRule[] } };
    results: SarifResult[];
  }>;
}

/**
 * SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`). secretlint's SARIF formatter lays out
 * the log; what it lacks is added here: each rule's description and help, a `security` tag and severity, and each
 * result's `partialFingerprints`, by which code scanning recognises a finding from one run to the next.
 */
export function formatSarif(report: ScanReport, version: string, cwd: string): string {
  const byPath = new Map<string, Finding[]>();
  for (const finding of report.findings) byPath.set(finding.path, [...(byPath.get(finding.path) ?? []), finding]);
  const ordered = [...byPath.values()].flat();
  const results: SecretLintCoreResult[] = [...byPath.entries()].map(([file, findings]) => ({
    // The formatter writes paths relative to the process's working directory.
    filePath: path.resolve(cwd, file),
    sourceContent: undefined,
    sourceContentType: 'text',
    messages: findings.map((finding) => ({
      type: 'message',
      ruleId: finding.ruleId,
      messageId: finding.ruleId,
      message: finding.message,
      range: [0, 0],
      loc: {
        start: { line: finding.line, column: finding.column - 1 },
        end: { line: finding.endLine, column: finding.endColumn - 1 },
      },
      severity: 'error',
    })),
  }));
  const log = JSON.parse(sarifFormatter(results, { color: false }) as string) as SarifLog;
  for (const run of log.runs) {
    run.tool.driver.name = 'coffer scan';
    run.tool.driver.version = version;
    delete run.tool.driver.informationUri;
    for (const rule of run.tool.driver.rules) Object.assign(rule, ruleMetadata(rule.id));
    run.results.forEach((result, index) => {
      const finding = ordered[index] as Finding;
      result.partialFingerprints = { [SARIF_FINGERPRINT_KEY]: finding.fingerprint };
      result.properties = {
        redacted: finding.redacted,
        ...(finding.commit === undefined ? {} : { commit: finding.commit }),
      };
    });
  }
  return `${JSON.stringify(log, null, 2)}\n`;
}

function ruleMetadata(ruleId: string): Omit<SarifRule, 'id'> {
  const short = `Hardcoded secret (${ruleId.replace(/^@secretlint\/secretlint-rule-/, '')})`;
  const help =
    'A secret is committed in plain text. Revoke or rotate it, move it into Coffer (`coffer secret put`), and read it ' +
    'at run time (`coffer run`, the agent or the SDK). If it is no secret, accept it in the baseline ' +
    '(`coffer scan --write-baseline`). See docs/scan.md.';
  return {
    shortDescription: { text: short },
    fullDescription: { text: `${short}: reported by ${ruleId}.` },
    help: { text: help, markdown: help },
    defaultConfiguration: { level: 'error' },
    // GitHub reads `security-severity` (0–10) and the `security` tag to rank and file the alert.
    properties: { tags: ['security', 'secret'], precision: 'high', 'security-severity': '8.0' },
  };
}
