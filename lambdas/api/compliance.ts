import * as z from 'zod';
import { Instant } from './common.ts';

/**
 * The compliance report (`GET /v1/sys/compliance`): the figures an audit asks for, each with its written definition.
 * The web console and `coffer compliance report` render it; fields are only ever added.
 */

export const COMPLIANCE_METRIC_IDS = [
  'rotation_compliance',
  'rotation_overdue',
  'audit_completeness',
  'unauthorised_attempt_rate',
  'authentication_success_rate',
  'token_expiry_compliance',
  'stale_secrets',
  'secrets_without_owner',
  'expiring_certificates',
  'expired_secrets',
  'mean_time_to_rotate',
  'rotation_success_rate',
  'top_denied_principals',
] as const;

export const ComplianceMetricId = z.enum(COMPLIANCE_METRIC_IDS);
export type ComplianceMetricId = z.infer<typeof ComplianceMetricId>;

export const ComplianceUnit = z.enum(['percent', 'count', 'seconds', 'ratio']);
export type ComplianceUnit = z.infer<typeof ComplianceUnit>;

/** `unknown`: the figure cannot be computed on this node (the source it reads is not there). */
export const ComplianceStatus = z.enum(['ok', 'warning', 'failing', 'unknown']);
export type ComplianceStatus = z.infer<typeof ComplianceStatus>;

/** One row of a metric's details: names, times and counts, never a secret value. */
export const ComplianceDetail = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
export type ComplianceDetail = z.infer<typeof ComplianceDetail>;

export const ComplianceMetric = z.object({
  id: z.string().describe('One of COMPLIANCE_METRIC_IDS; a client meets unknown ids from newer servers'),
  title: z.string(),
  definition: z.string().describe('What is counted, over what window, and the thresholds of ok/warning/failing'),
  value: z.number().nullable().describe('null: nothing to measure (see the definition), or not measurable here'),
  unit: ComplianceUnit,
  status: ComplianceStatus,
  details: z.array(ComplianceDetail).optional(),
});
export type ComplianceMetric = z.infer<typeof ComplianceMetric>;

export const ComplianceReport = z.object({
  generatedAt: Instant,
  window: z.object({ since: Instant, until: Instant }),
  metrics: z.array(ComplianceMetric),
});
export type ComplianceReport = z.infer<typeof ComplianceReport>;
