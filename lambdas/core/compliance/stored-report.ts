import { parseDuration } from '../duration.ts';
import { DependencyUnavailableError, ValidationError } from '../errors.ts';
import type { Store } from '../ports/store.ts';
import type { ComplianceReportFigures, ComputeReport } from './compliance-service.ts';

/**
 * The last report the scheduled compliance function computed (AWS), one item: the broker Lambda answers
 * `GET /v1/sys/compliance` from it instead of reading a window of S3 audit objects inside an API Gateway request.
 */
export const COMPLIANCE_PARTITION = 'compliance';
/** The one item's sort key: each run replaces the report before it. */
export const LATEST_REPORT_SK = 'latest';

/** What the item holds: the figures (names and counts, never a value) and the window they were asked for. */
export interface StoredReport extends Record<string, unknown> {
  /** The `since` the function computes (`COFFER_COMPLIANCE_WINDOW`, e.g. `1d`). */
  readonly since: string;
  readonly report: ComplianceReportFigures;
}

/**
 * Replaces the stored report. One unconditional put: runs are serialised by the schedule (reserved concurrency 1)
 * and a later report always supersedes an earlier one.
 *
 * @example
 * ```ts
 * await saveReport(items, '1d', await compliance.report({ since: '1d' }));
 * ```
 */
export async function saveReport(store: Store, since: string, report: ComplianceReportFigures): Promise<void> {
  const data: StoredReport = { since, report };
  await store.transact([{ type: 'put', pk: COMPLIANCE_PARTITION, sk: LATEST_REPORT_SK, data }]);
}

/**
 * A {@link ComputeReport} that computes nothing: it answers the report the compliance function stored, so a runtime
 * composed with it (the broker Lambda) bundles none of the figures' code and reads one item per request.
 *
 * @throws ValidationError when the window asked is not the function's (only that window is ever computed there)
 * @throws DependencyUnavailableError when no report is stored yet (the function has not run): a retry after its next
 *   run succeeds, and a made-up report would be an assurance nobody computed
 * @example
 * ```ts
 * composeServices({ ...ports, computeComplianceReport: storedReportReader(items) });
 * ```
 */
export function storedReportReader(store: Pick<Store, 'get'>): ComputeReport {
  return async (_sources, _window, request) => {
    const item = await store.get<StoredReport>(COMPLIANCE_PARTITION, LATEST_REPORT_SK);
    if (item === undefined) {
      throw new DependencyUnavailableError(
        'no compliance report yet: the scheduled compliance function stores one at its first run (hourly); retry later',
        { details: { dependency: 'compliance function' } },
      );
    }
    const { since, report } = item.data;
    if (request?.since !== undefined && !sameWindow(request.since, since)) {
      throw new ValidationError(
        `invalid since ${JSON.stringify(request.since)}: on AWS the report is the one the scheduled compliance ` +
          `function computes, over since=${since} (COFFER_COMPLIANCE_WINDOW); ask for that window or leave since out`,
      );
    }
    return report;
  };
}

/** Durations name the same window when they span the same time (`1d` is `24h`); an instant never does. */
function sameWindow(asked: string, computed: string): boolean {
  if (/^\d{4}-\d{2}-\d{2}/.test(asked)) return false;
  return parseDuration(asked) === parseDuration(computed);
}
