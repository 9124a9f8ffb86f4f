import { AuditWindowCounter, REQUEST_GRACE_MS } from './audit-window-figures.ts';
import { type ComplianceInputs, type ComplianceToken, complianceMetrics } from './compliance-metrics.ts';
import type { ComplianceReportFigures, ComplianceServiceOptions } from './compliance-service.ts';

/**
 * Gathers what the report needs through the service's options, then computes it. Loaded at the first report
 * (`ComplianceService`), with the figures' definitions.
 */
export async function buildReport(
  options: ComplianceServiceOptions,
  window: { since: number; until: number },
): Promise<ComplianceReportFigures> {
  const { since, until } = window;
  const [secrets, tokens, rotation, certificates, audit, expired] = await Promise.all([
    options.secrets.listDescriptions(),
    liveTokens(options),
    options.rotation?.status({ rotationsSince: since }),
    options.certificates?.(),
    auditFigures(options, window),
    options.expiredSecrets?.(until),
  ]);
  const inputs: ComplianceInputs = {
    since,
    until,
    secrets: secrets.map((s) => ({ name: s.name, tags: s.tags, createdAt: s.createdAt })),
    tokens,
    rotation,
    certificates,
    audit,
    expired,
  };
  return { generatedAt: until, window, metrics: complianceMetrics(inputs) };
}

async function liveTokens(options: ComplianceServiceOptions): Promise<ComplianceToken[]> {
  const tokens: ComplianceToken[] = [];
  for await (const record of options.tokens.liveRecords()) {
    tokens.push({
      displayName: record.displayName,
      accessorHmac: options.hmac(record.accessor),
      policies: [...record.policies],
      createdAt: record.createdAt,
      maxExpiresAt: record.maxExpiresAt,
    });
  }
  return tokens;
}

async function auditFigures(
  options: ComplianceServiceOptions,
  window: { since: number; until: number },
): Promise<ComplianceInputs['audit']> {
  const reader = options.auditWindow;
  if (reader === undefined) return undefined;
  // A response just inside the window finds its request, written up to the grace before it.
  const from = window.since - REQUEST_GRACE_MS;
  const counter = new AuditWindowCounter(window);
  for await (const record of reader.records(from)) counter.add(record);
  return { figures: counter.figures(), chains: await reader.verify(from) };
}
