import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { S3AuditWindow } from '../../adapters/aws/s3-audit/s3-audit-window.ts';
import { buildReport } from '../../core/compliance/compliance-report.ts';
import type { ComplianceReportFigures } from '../../core/compliance/compliance-service.ts';
import { saveReport } from '../../core/compliance/stored-report.ts';
import { ValidationError } from '../../core/errors.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { RuntimePorts } from '../compose-services.ts';
import { composeServices } from '../compose-services.ts';
import { type AwsClients, awsPorts, createAwsClients, resolveAuditSalt } from './compose.ts';
import type { AwsConfig } from './config.ts';
import {
  AUDIT_CHAINS_FAILED_METRIC,
  AUDIT_GAPS_METRIC,
  COMPLIANCE_METRICS,
  COMPLIANCE_SERVICE_NAME,
  METRICS_NAMESPACE,
} from './deployment-names.ts';

/** The part of Powertools `Metrics` the function uses. */
export interface ComplianceMetricsSink {
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
  publishStoredMetrics(): unknown;
}

/** The part of a Powertools `Logger` the function uses. */
export interface ComplianceLogger {
  info(message: string, attributes: Record<string, unknown>): void;
}

export interface ComplianceFunctionOptions {
  /** How far back each report reaches. @default COFFER_COMPLIANCE_WINDOW, else '1d' */
  readonly window?: string;
  /** @default a Powertools Metrics of namespace `Coffer`, service `compliance` */
  readonly metrics?: ComplianceMetricsSink;
  /** @default a Powertools logger, service `compliance` */
  readonly logger?: ComplianceLogger;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Where the audit log is read back. @default the S3 audit bucket of `config` */
  readonly auditWindow?: RuntimePorts['auditWindow'];
  /**
   * Where the report is stored for the broker to answer (`compliance`/`latest`). The items table itself, not the
   * audit outbox: the function's role may write that one item only, and storing a report changes nothing to audit.
   * @default the items table of `config`
   */
  readonly reportStore?: Store;
}

const UNITS = { percent: MetricUnit.Percent, count: MetricUnit.Count, seconds: MetricUnit.Seconds } as const;

/**
 * The scheduled compliance function: on AWS, the figures of `GET /v1/sys/compliance` as CloudWatch metrics (namespace
 * `Coffer`, service `compliance`), which the stack's dashboard shows and its alarms watch (lib/coffer-compliance.ts).
 * It composes exactly as the broker does (`awsPorts`: the same table, keys and rotation adapters), adds the S3 audit
 * log as the audit reader, and computes the report in the same core code as the local node. The broker Lambda does
 * not compute reports (its zip budget): this function does, on its schedule.
 *
 * Each run stores the report (one item, `compliance`/`latest`) for the broker's `GET /v1/sys/compliance`, publishes
 * every figure that has a value, plus the audit gaps and the chains that failed; it logs the ids, values and statuses,
 * never the details (which name secrets and principals).
 *
 * @example
 * ```ts
 * export const handler = await loadComplianceHandler(loadAwsConfig());
 * ```
 */
export async function loadComplianceHandler(
  config: AwsConfig,
  clients: AwsClients & { readonly s3?: S3Client } = createAwsClients(config),
  options: ComplianceFunctionOptions = {},
): Promise<() => Promise<ComplianceReportFigures>> {
  const window = options.window ?? process.env.COFFER_COMPLIANCE_WINDOW ?? '1d';
  if (!/^\d{1,3}[dh]$/.test(window)) {
    throw new ValidationError('invalid configuration COFFER_COMPLIANCE_WINDOW: must be e.g. 1d, 30d or 12h');
  }
  const resolved = await resolveAuditSalt(config, clients.secretsManager);
  const clock = options.clock ?? systemClock;
  const s3 =
    clients.s3 ??
    new S3Client({ region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) });
  const { deps } = composeServices({
    ...awsPorts(resolved, clients, clock),
    auditWindow: options.auditWindow ?? new S3AuditWindow({ client: s3, bucket: resolved.auditBucket }),
    computeComplianceReport: buildReport,
  });
  const compliance = deps.compliance!;
  const reportStore =
    options.reportStore ?? new DynamoDbStore({ client: clients.dynamodb, tableName: resolved.tableName });
  const metrics =
    options.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: COMPLIANCE_SERVICE_NAME });
  const logger = options.logger ?? new Logger({ serviceName: COMPLIANCE_SERVICE_NAME });

  return async () => {
    const report = await compliance.report({ since: window });
    // Stored before the metrics are published: a failed write fails the run, which the function's alarm reports.
    await saveReport(reportStore, window, report);
    for (const metric of report.metrics) {
      if (metric.value === null || metric.unit === 'ratio') continue;
      metrics.addMetric(COMPLIANCE_METRICS[metric.id], UNITS[metric.unit], metric.value);
    }
    const audit = report.metrics.find((m) => m.id === 'audit_completeness');
    if (audit?.value !== null && audit?.details !== undefined) {
      const summary = audit.details.find((d) => d.kind === 'summary');
      metrics.addMetric(AUDIT_GAPS_METRIC, MetricUnit.Count, Number(summary?.gaps ?? 0));
      const failed = audit.details.filter((d) => d.kind === 'chain' && d.verified === false).length;
      metrics.addMetric(AUDIT_CHAINS_FAILED_METRIC, MetricUnit.Count, failed);
    }
    metrics.publishStoredMetrics();
    logger.info('compliance report', {
      window,
      figures: report.metrics.map((m) => ({ id: m.id, value: m.value, status: m.status })),
    });
    return report;
  };
}
