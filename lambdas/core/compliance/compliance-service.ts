import { parseDuration } from '../duration.ts';
import { ValidationError } from '../errors.ts';
import type { AuditWindowReader } from '../ports/audit-window.ts';
import type { Clock } from '../ports/clock.ts';
import type { ComplianceFigures } from '../rotation/rotation-compliance.ts';
import type { ComplianceCertificate, Metric, SecretExpiry } from './compliance-metrics.ts';

/** The window a report covers by default, and the longest one asked for (the audit records of a year at most). */
export const DEFAULT_WINDOW = '30d';
const MAX_WINDOW_MS = 366 * 86_400_000;

/** The report as the core answers it (the wire shape is `ComplianceReport` in `lambdas/api/compliance.ts`). */
export interface ComplianceReportFigures {
  /** Epoch ms. */
  readonly generatedAt: number;
  readonly window: { readonly since: number; readonly until: number };
  readonly metrics: readonly Metric[];
}

/** The live secrets their expiration policy has ended at `now` (epoch ms): in grace or expired. */
export type ExpiredSecrets = (now: number) => Promise<readonly SecretExpiry[]>;

/**
 * Computes a report from the sources (`buildReport` in `compliance-report.ts`). Injected, so a runtime that does not
 * compute reports (the broker Lambda, whose zip has a 1 MB budget) never bundles the figures: it answers the report
 * its scheduled function stored (`storedReportReader` in `stored-report.ts`), which must know whether a window was
 * asked at all (`request.since`) rather than the default one.
 */
export type ComputeReport = (
  sources: ComplianceServiceOptions,
  window: { since: number; until: number },
  request?: { readonly since?: string | undefined },
) => Promise<ComplianceReportFigures>;

export interface ComplianceServiceOptions {
  readonly clock: Clock;
  /** The home region's secrets: names, tags and creation times (never a value). */
  readonly secrets: {
    listDescriptions(): Promise<readonly { name: string; tags: Record<string, string>; createdAt: number }[]>;
  };
  readonly tokens: {
    liveRecords(): AsyncIterable<{
      accessor: string;
      displayName: string;
      policies: readonly string[];
      createdAt: number;
      maxExpiresAt: number | null;
    }>;
  };
  /** The audit HMAC: a token is named by its accessor's HMAC, as the audit log names it. */
  readonly hmac: (value: string) => string;
  /** @default rotation figures unknown */
  readonly rotation?: { status(options: { rotationsSince?: number }): Promise<ComplianceFigures> } | undefined;
  /** The PKI engine's issued certificates. @default certificate figures unknown */
  readonly certificates?: (() => Promise<readonly ComplianceCertificate[]>) | undefined;
  /** Reads the audit records of the window back. @default audit figures unknown */
  readonly auditWindow?: AuditWindowReader | undefined;
  /**
   * The live secrets that their expiration policy has ended now (in grace or expired).
   * @default expired-secret figure unknown
   */
  readonly expiredSecrets?: ExpiredSecrets | undefined;
}

/**
 * The compliance report (docs/compliance.md): the figures an audit asks for, each with its definition, over a window
 * ending now. Reads through its options only; never a secret value.
 *
 * @example
 * ```ts
 * const report = await compliance.report({ since: '30d' });
 * report.metrics.find((m) => m.id === 'rotation_compliance')?.value; // e.g. 87.5
 * ```
 */
export class ComplianceService {
  readonly #options: ComplianceServiceOptions;
  readonly #compute: ComputeReport;

  constructor(options: ComplianceServiceOptions & { readonly compute: ComputeReport }) {
    const { compute, ...sources } = options;
    this.#options = sources;
    this.#compute = compute;
  }

  /**
   * @param input.since how far back the window reaches: a duration (`30d`, `12h`) or an ISO-8601 instant
   * @throws ValidationError when `since` is neither, is in the future, or reaches back more than 366 days
   */
  async report(input: { since?: string | undefined } = {}): Promise<ComplianceReportFigures> {
    const until = this.#options.clock.now();
    const since = windowStart(input.since ?? DEFAULT_WINDOW, until);
    return this.#compute(this.#options, { since, until }, { since: input.since });
  }
}

/** The window's start (epoch ms) for `since`, a duration back from `until` or an instant. */
export function windowStart(since: string, until: number): number {
  let start: number;
  if (/^\d{4}-\d{2}-\d{2}/.test(since)) {
    start = Date.parse(since);
    if (!Number.isFinite(start)) throw new ValidationError(`invalid since ${JSON.stringify(since)}: not an instant`);
  } else {
    start = until - parseDuration(since) * 1000;
  }
  if (start > until) throw new ValidationError('invalid since: the window must start in the past');
  if (until - start > MAX_WINDOW_MS) throw new ValidationError('invalid since: the window is at most 366 days');
  return start;
}
