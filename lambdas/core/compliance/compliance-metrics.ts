/**
 * The compliance report's figures from what the service gathered: pure, so every figure is tested on seeded inputs.
 * Each metric carries its written definition (what is counted, over what window, the thresholds of its status); the
 * definitions below are the contract, and docs/compliance.md repeats them.
 */

import type { AuditChainVerdict } from '../ports/audit-window.ts';
import type { ComplianceFigures } from '../rotation/rotation-compliance.ts';
import { type AuditWindowFigures, REQUEST_GRACE_MS } from './audit-window-figures.ts';

const DAY_MS = 86_400_000;

/** The thresholds the statuses are decided by. */
export const THRESHOLDS = {
  /** A token whose maximum life (`maxExpiresAt - createdAt`) is longer than this is long-lived. */
  longLivedTokenMs: 30 * DAY_MS,
  /** A certificate whose `notAfter` is this close is expiring (warning)… */
  certificateWarningMs: 30 * DAY_MS,
  /** …and this close, failing. */
  certificateFailingMs: 7 * DAY_MS,
  /** A principal refused this often in the window makes `top_denied_principals` a warning. */
  deniedPrincipalWarning: 10,
  /** How many rows a list of details holds at most (the value still counts them all). */
  maxDetails: 100,
  /** How many principals `top_denied_principals` lists. */
  topDenied: 10,
} as const;

/** A secret as the report sees it: its name, tags and when it was created. Never its value. */
export interface ComplianceSecret {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly createdAt: number;
}

/** A live token, by what the report may say of it. */
export interface ComplianceToken {
  readonly displayName: string;
  /** The accessor's audit HMAC, as the audit log names the token. */
  readonly accessorHmac: string;
  readonly policies: readonly string[];
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; null: no max TTL (the token may be renewed for ever). */
  readonly maxExpiresAt: number | null;
}

/** A certificate the PKI engine issued. */
export interface ComplianceCertificate {
  readonly serial: string;
  /** Epoch ms. */
  readonly notAfter: number;
  readonly revoked: boolean;
}

/** Where a secret stands against its expiration policy (`core/secrets/expiration/`). */
export interface SecretExpiry {
  readonly name: string;
  /** `grace`: past its expiry, still readable with a warning; `expired`: refused. */
  readonly state: 'grace' | 'expired';
  /** Epoch ms, when the policy has a time. */
  readonly expiresAt?: number | undefined;
}

export interface ComplianceInputs {
  readonly since: number;
  readonly until: number;
  readonly secrets: readonly ComplianceSecret[];
  readonly tokens: readonly ComplianceToken[];
  /** Absent: the node has no rotation. */
  readonly rotation?: ComplianceFigures | undefined;
  /** Absent: the node has no PKI engine. */
  readonly certificates?: readonly ComplianceCertificate[] | undefined;
  /** Absent: no audit reader on this node. */
  readonly audit?: { readonly figures: AuditWindowFigures; readonly chains: readonly AuditChainVerdict[] } | undefined;
  /** Absent: expiration policies are not known here. Only the secrets in grace or expired. */
  readonly expired?: readonly SecretExpiry[] | undefined;
}

export type ComplianceMetricId =
  | 'rotation_compliance'
  | 'rotation_overdue'
  | 'audit_completeness'
  | 'unauthorised_attempt_rate'
  | 'authentication_success_rate'
  | 'token_expiry_compliance'
  | 'stale_secrets'
  | 'secrets_without_owner'
  | 'expiring_certificates'
  | 'expired_secrets'
  | 'mean_time_to_rotate'
  | 'rotation_success_rate'
  | 'top_denied_principals';

/** `unknown`: the figure cannot be computed on this node (the source it reads is not there). */
export type ComplianceStatus = 'ok' | 'warning' | 'failing' | 'unknown';

/** One row of a metric's details: names, times and counts, never a secret value. */
export type ComplianceDetail = Record<string, string | number | boolean | null>;

/** One figure of the report (the wire shape is `ComplianceMetric` in `lambdas/api/compliance.ts`). */
export interface Metric {
  readonly id: ComplianceMetricId;
  readonly title: string;
  readonly definition: string;
  readonly value: number | null;
  readonly unit: 'percent' | 'count' | 'seconds' | 'ratio';
  readonly status: ComplianceStatus;
  readonly details?: ComplianceDetail[];
}

const iso = (ms: number) => new Date(ms).toISOString();
/**
 * Figures are given to two decimals, rounded toward the worse side (a share of good things down, a share of bad
 * things up) and graded as given: 1 gap in a million records is 99.99, not a clean 100.
 */
const percent = (part: number, whole: number) => (whole === 0 ? null : Math.floor((part / whole) * 10_000) / 100);
const percentUp = (part: number, whole: number) => (whole === 0 ? null : Math.ceil((part / whole) * 10_000) / 100);
const round = (n: number) => Math.round(n * 100) / 100;
const days = (ms: number) => round(ms / DAY_MS);

/** ok at or above `ok`, warning at or above `warning`, else failing; null is `whenNull`. */
function atLeast(value: number | null, ok: number, warning: number, whenNull: ComplianceStatus): ComplianceStatus {
  if (value === null) return whenNull;
  return value >= ok ? 'ok' : value >= warning ? 'warning' : 'failing';
}

function unknown(id: ComplianceMetricId, title: string, definition: string, unit: Metric['unit'], why: string): Metric {
  return {
    id,
    title,
    definition: `${definition} Not measurable on this node: ${why}.`,
    value: null,
    unit,
    status: 'unknown',
  };
}

function capped(rows: ComplianceDetail[]): ComplianceDetail[] {
  return rows.slice(0, THRESHOLDS.maxDetails);
}

/**
 * Every metric of the report, in the contract's order.
 *
 * @example
 * ```ts
 * complianceMetrics({ since, until, secrets: [], tokens: [] }).map((m) => m.id); // COMPLIANCE_METRIC_IDS
 * ```
 */
export function complianceMetrics(input: ComplianceInputs): Metric[] {
  const windowDays = days(input.until - input.since);
  const window = `the window (${windowDays} days up to the report)`;
  const noRotation = 'rotation is not enabled';
  const noAudit = 'no audit log reader (the audit records of the window cannot be read back)';
  const { rotation, audit } = input;
  const metrics: Metric[] = [];

  // ---- rotation ------------------------------------------------------------------------------------------------
  {
    const definition =
      'Share of secrets with rotation enabled that are on schedule now: not past the end of the rotation window ' +
      'opening at their due time (computed from their rules and last rotation, or from when rotation was configured). ' +
      'No secret with rotation counts as 100. ok = 100; warning >= 90; failing < 90.';
    if (rotation === undefined) {
      metrics.push(unknown('rotation_compliance', 'Rotation compliance', definition, 'percent', noRotation));
    } else {
      const value = Math.floor(rotation.onScheduleShare * 10_000) / 100;
      metrics.push({
        id: 'rotation_compliance',
        title: 'Rotation compliance',
        definition,
        value,
        unit: 'percent',
        status: atLeast(value, 100, 90, 'ok'),
        details: [{ secretsWithRotation: rotation.secretsWithRotation, onSchedule: rotation.onSchedule }],
      });
    }
  }
  {
    const definition =
      'Secrets with rotation enabled that are overdue now (past the end of their rotation window), most overdue ' +
      'first. ok = 0; failing >= 1.';
    if (rotation === undefined) {
      metrics.push(unknown('rotation_overdue', 'Overdue rotations', definition, 'count', noRotation));
    } else {
      metrics.push({
        id: 'rotation_overdue',
        title: 'Overdue rotations',
        definition,
        value: rotation.overdue.length,
        unit: 'count',
        status: rotation.overdue.length === 0 ? 'ok' : 'failing',
        details: capped(
          rotation.overdue.map((o) => ({
            name: o.name,
            dueAt: iso(o.dueAt),
            windowEnd: iso(o.windowEnd),
            overdueDays: days(o.overdueByMs),
          })),
        ),
      });
    }
  }

  // ---- the audit log -------------------------------------------------------------------------------------------
  {
    const definition =
      `Share of the request records written in ${window} that have their response record (same request id). A ` +
      `request without a response written more than ${REQUEST_GRACE_MS / 60_000} minutes before the end of the window ` +
      'is a gap, a later one is still running; a successful response without its request record is a gap too ' +
      '(refusals may stand alone: a request refused before it was recorded leaves only its refusal). Every hash ' +
      'chain holding the window must verify. ok = 100 with every chain verified; failing otherwise. Gaps and ' +
      'chains are named in the details.';
    if (audit === undefined) {
      metrics.push(unknown('audit_completeness', 'Audit completeness', definition, 'percent', noAudit));
    } else {
      const { figures, chains } = audit;
      const value = percent(figures.complete, figures.complete + figures.gaps.length) ?? 100;
      const chainsOk = chains.every((chain) => chain.ok);
      metrics.push({
        id: 'audit_completeness',
        title: 'Audit completeness',
        definition,
        value,
        unit: 'percent',
        status: value === 100 && chainsOk ? 'ok' : 'failing',
        details: capped([
          ...chains.map((chain) => ({
            kind: 'chain',
            source: chain.source,
            verified: chain.ok,
            records: chain.records,
            reason: chain.reason ?? null,
          })),
          { kind: 'summary', complete: figures.complete, gaps: figures.gaps.length, inFlight: figures.inFlight },
          ...figures.gaps.map((gap) => ({ kind: 'gap', ...gap })),
        ]),
      });
    }
  }
  {
    const definition =
      `Share of the responses written in ${window} that refused the caller (outcome denied: 401, 403, or refused ` +
      'by a rate-limit quota or the login lockout). No response: no figure, ok. ok < 1; warning < 5; failing >= 5.';
    if (audit === undefined) {
      metrics.push(unknown('unauthorised_attempt_rate', 'Unauthorised attempts', definition, 'percent', noAudit));
    } else {
      const value = percentUp(audit.figures.denied, audit.figures.responses);
      metrics.push({
        id: 'unauthorised_attempt_rate',
        title: 'Unauthorised attempts',
        definition,
        value,
        unit: 'percent',
        status: value === null || value < 1 ? 'ok' : value < 5 ? 'warning' : 'failing',
        details: [{ responses: audit.figures.responses, denied: audit.figures.denied }],
      });
    }
  }
  {
    const definition =
      `Share of the login attempts answered in ${window} that succeeded; an attempt is a login that reached a ` +
      'mounted auth method (AppRole, JWT, LDAP, certificates, …). No attempt: no figure, ok. ok >= 90; warning >= 70; failing < 70.';
    if (audit === undefined) {
      metrics.push(unknown('authentication_success_rate', 'Authentication success', definition, 'percent', noAudit));
    } else {
      const attempts = audit.figures.logins.reduce((sum, l) => sum + l.attempts, 0);
      const succeeded = audit.figures.logins.reduce((sum, l) => sum + l.succeeded, 0);
      const value = percent(succeeded, attempts);
      metrics.push({
        id: 'authentication_success_rate',
        title: 'Authentication success',
        definition,
        value,
        unit: 'percent',
        status: atLeast(value, 90, 70, 'ok'),
        details: audit.figures.logins.map((l) => ({
          method: l.method,
          mount: l.mount,
          attempts: l.attempts,
          succeeded: l.succeeded,
        })),
      });
    }
  }

  // ---- tokens --------------------------------------------------------------------------------------------------
  {
    const longLivedDays = THRESHOLDS.longLivedTokenMs / DAY_MS;
    const definition =
      'Share of the live tokens now (not expired, not revoked) that have a max TTL no longer than ' +
      `${longLivedDays} days from their creation. A token without a max TTL (a root token, a periodic token) or with ` +
      `a longer one is out of compliance and listed (by display name and accessor HMAC). ok = 100; warning >= 90; ` +
      'failing < 90.';
    const outOf: ComplianceDetail[] = [];
    // Without a max TTL first, then the longest-lived, so the worst lead the list.
    const life = (t: ComplianceToken) =>
      t.maxExpiresAt === null ? Number.POSITIVE_INFINITY : t.maxExpiresAt - t.createdAt;
    const tokens = [...input.tokens].sort((a, b) => life(b) - life(a) || a.createdAt - b.createdAt);
    for (const token of tokens) {
      const life = token.maxExpiresAt === null ? undefined : token.maxExpiresAt - token.createdAt;
      if (life !== undefined && life <= THRESHOLDS.longLivedTokenMs) continue;
      outOf.push({
        displayName: token.displayName,
        accessor: token.accessorHmac,
        policies: token.policies.join(','),
        createdAt: iso(token.createdAt),
        maxExpiresAt: token.maxExpiresAt === null ? null : iso(token.maxExpiresAt),
        reason: life === undefined ? 'no max TTL' : 'long-lived',
      });
    }
    const value = percent(input.tokens.length - outOf.length, input.tokens.length);
    metrics.push({
      id: 'token_expiry_compliance',
      title: 'Token expiry compliance',
      definition,
      value,
      unit: 'percent',
      status: atLeast(value, 100, 90, 'ok'),
      details: capped(outOf),
    });
  }

  // ---- secrets -------------------------------------------------------------------------------------------------
  {
    const definition =
      `Secrets that existed for the whole of ${window} and whose value nobody read in it. "Read" is known from the ` +
      'audit records of the window: a successful secret.read, GetSecretValue or BatchGetSecretValue granted read on ' +
      'the secret (rotation and replication do not count). ok = 0; warning >= 1.';
    if (audit === undefined) {
      metrics.push(unknown('stale_secrets', 'Stale secrets', definition, 'count', noAudit));
    } else {
      const stale = input.secrets.filter((s) => s.createdAt <= input.since && !audit.figures.lastRead.has(s.name));
      metrics.push({
        id: 'stale_secrets',
        title: 'Stale secrets',
        definition,
        value: stale.length,
        unit: 'count',
        status: stale.length === 0 ? 'ok' : 'warning',
        details: capped(stale.map((s) => ({ name: s.name, createdAt: iso(s.createdAt) }))),
      });
    }
  }
  {
    const definition = 'Live secrets now (not pending deletion) without a non-empty `owner` tag. ok = 0; warning >= 1.';
    const ownerless = input.secrets.filter((s) => (s.tags.owner ?? '').trim() === '');
    metrics.push({
      id: 'secrets_without_owner',
      title: 'Secrets without an owner',
      definition,
      value: ownerless.length,
      unit: 'count',
      status: ownerless.length === 0 ? 'ok' : 'warning',
      details: capped(ownerless.map((s) => ({ name: s.name }))),
    });
  }
  {
    const warnDays = THRESHOLDS.certificateWarningMs / DAY_MS;
    const failDays = THRESHOLDS.certificateFailingMs / DAY_MS;
    const definition =
      `Certificates the PKI engine issued (certificate rotation issues through it too) that are not revoked and ` +
      `whose notAfter is within the next ${warnDays} days and not yet past. ok = 0; warning >= 1; failing when one ` +
      `expires within ${failDays} days. Already expired ones are listed, not counted.`;
    if (input.certificates === undefined) {
      metrics.push(unknown('expiring_certificates', 'Expiring certificates', definition, 'count', 'no PKI engine'));
    } else {
      const live = input.certificates.filter((c) => !c.revoked);
      const expiring = live
        .filter((c) => c.notAfter > input.until && c.notAfter - input.until <= THRESHOLDS.certificateWarningMs)
        .sort((a, b) => a.notAfter - b.notAfter);
      const expired = live.filter((c) => c.notAfter <= input.until).sort((a, b) => a.notAfter - b.notAfter);
      const soonest = expiring[0];
      metrics.push({
        id: 'expiring_certificates',
        title: 'Expiring certificates',
        definition,
        value: expiring.length,
        unit: 'count',
        status:
          soonest === undefined
            ? 'ok'
            : soonest.notAfter - input.until <= THRESHOLDS.certificateFailingMs
              ? 'failing'
              : 'warning',
        details: capped([
          ...expiring.map((c) => ({
            serial: c.serial,
            notAfter: iso(c.notAfter),
            daysLeft: days(c.notAfter - input.until),
            expired: false,
          })),
          ...expired.map((c) => ({ serial: c.serial, notAfter: iso(c.notAfter), daysLeft: 0, expired: true })),
        ]),
      });
    }
  }
  {
    const definition =
      'Live secrets now whose expiration policy has ended them: in their grace period (still readable, with a ' +
      'warning) or expired (refused). ok = 0; warning >= 1.';
    if (input.expired === undefined) {
      metrics.push(
        unknown('expired_secrets', 'Expired secrets', definition, 'count', 'expiration policies are not read here'),
      );
    } else {
      const expired = [...input.expired].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      metrics.push({
        id: 'expired_secrets',
        title: 'Expired secrets',
        definition,
        value: expired.length,
        unit: 'count',
        status: expired.length === 0 ? 'ok' : 'warning',
        details: capped(
          expired.map((e) => ({
            name: e.name,
            state: e.state,
            expiresAt: e.expiresAt === undefined ? null : iso(e.expiresAt),
          })),
        ),
      });
    }
  }

  // ---- rotations of the window ---------------------------------------------------------------------------------
  {
    const definition =
      `Mean time from start to finish of the rotations that started in ${window} and succeeded (a coordinated ` +
      'group is one rotation). None: no figure, ok. ok <= 300 s; warning <= 3600 s; failing beyond.';
    if (rotation === undefined) {
      metrics.push(unknown('mean_time_to_rotate', 'Mean time to rotate', definition, 'seconds', noRotation));
    } else {
      const seconds = rotation.meanTimeToRotateMs === undefined ? null : rotation.meanTimeToRotateMs / 1000;
      const value = seconds === null ? null : round(seconds);
      metrics.push({
        id: 'mean_time_to_rotate',
        title: 'Mean time to rotate',
        definition,
        value,
        unit: 'seconds',
        // Graded before rounding, so a hair over a threshold is over it.
        status: seconds === null || seconds <= 300 ? 'ok' : seconds <= 3600 ? 'warning' : 'failing',
        details: [
          {
            succeeded: rotation.rotations.succeeded,
            p95Seconds: rotation.p95TimeToRotateMs === undefined ? null : round(rotation.p95TimeToRotateMs / 1000),
          },
        ],
      });
    }
  }
  {
    const definition =
      `Share of the rotations that started in ${window} and ended that succeeded (running ones are not decided; a ` +
      'coordinated group is one rotation). None ended: no figure, ok. ok >= 95; warning >= 80; failing < 80.';
    if (rotation === undefined) {
      metrics.push(unknown('rotation_success_rate', 'Rotation success rate', definition, 'percent', noRotation));
    } else {
      const value =
        rotation.rotations.successRate === undefined ? null : Math.floor(rotation.rotations.successRate * 10_000) / 100;
      metrics.push({
        id: 'rotation_success_rate',
        title: 'Rotation success rate',
        definition,
        value,
        unit: 'percent',
        status: atLeast(value, 95, 80, 'ok'),
        details: [
          {
            succeeded: rotation.rotations.succeeded,
            failed: rotation.rotations.failed,
            running: rotation.rotations.running,
          },
        ],
      });
    }
  }
  {
    const definition =
      `Principals refused (outcome denied) in ${window}, by how often; the value is how many distinct principals ` +
      '(unauthenticated callers count by source address) and the details list the top ' +
      `${THRESHOLDS.topDenied}. Status by the most refused principal's denials: ok < ` +
      `${THRESHOLDS.deniedPrincipalWarning}; warning >= ${THRESHOLDS.deniedPrincipalWarning}.`;
    if (audit === undefined) {
      metrics.push(unknown('top_denied_principals', 'Top denied principals', definition, 'count', noAudit));
    } else {
      const denied = audit.figures.deniedPrincipals;
      metrics.push({
        id: 'top_denied_principals',
        title: 'Top denied principals',
        definition,
        value: denied.length,
        unit: 'count',
        status: (denied[0]?.denials ?? 0) >= THRESHOLDS.deniedPrincipalWarning ? 'warning' : 'ok',
        details: denied.slice(0, THRESHOLDS.topDenied).map((d) => ({ ...d })),
      });
    }
  }
  return metrics;
}
