import * as z from 'zod';
import { ValidationError } from '../errors.ts';
import { REGION_NAME } from '../regions.ts';
import { isKnownTimeZone, parseCidr, parseClockTime } from './conditions.ts';
import { patternProblem } from './path-pattern.ts';
import { CAPABILITIES, type PolicyDocument, ROOT_POLICY_NAME, WEEKDAYS } from './policy-types.ts';

/** Upper bounds that keep one document cheap to evaluate on every request. */
export const POLICY_LIMITS = {
  rules: 500,
  sourceCidrs: 100,
  regions: 50,
  descriptionLength: 1024,
} as const;

export const PolicyNameSchema = z.string({ error: 'must be a string' }).regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/, {
  error: 'must be 1-128 characters of a-z, 0-9, _ . - starting with a lowercase letter or digit',
});

const PathPatternSchema = z.string({ error: 'must be a string' }).superRefine((pattern, ctx) => {
  const problem = patternProblem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${problem}: ${JSON.stringify(pattern)}` });
});

const CapabilitySchema = z.enum(CAPABILITIES, {
  error: (issue) => `unknown capability ${JSON.stringify(issue.input)}; expected one of ${CAPABILITIES.join(', ')}`,
});

const ClockTimeSchema = z.string({ error: 'must be a string' }).refine((text) => parseClockTime(text) !== undefined, {
  error: (issue) => `must be HH:MM between 00:00 and 23:59, got ${JSON.stringify(issue.input)}`,
});

const CidrSchema = z.string({ error: 'must be a string' }).refine((text) => parseCidr(text) !== undefined, {
  error: (issue) => `invalid CIDR ${JSON.stringify(issue.input)}; expected e.g. 10.0.0.0/8 or 2001:db8::/32`,
});

const TimeZoneSchema = z.string({ error: 'must be a string' }).refine(isKnownTimeZone, {
  error: (issue) => `unknown time zone ${JSON.stringify(issue.input)}; expected an IANA name such as Europe/Paris`,
});

const WeekdaySchema = z.enum(WEEKDAYS, {
  error: (issue) => `unknown weekday ${JSON.stringify(issue.input)}; expected one of ${WEEKDAYS.join(', ')}`,
});

export const PolicyConditionsSchema = z.strictObject({
  sourceCidrs: z
    .array(CidrSchema)
    .min(1, { error: 'must list at least one CIDR' })
    .max(POLICY_LIMITS.sourceCidrs, { error: `must list at most ${POLICY_LIMITS.sourceCidrs} CIDRs` })
    .optional(),
  timeOfDay: z
    .strictObject({ start: ClockTimeSchema, end: ClockTimeSchema })
    .refine((window) => window.start !== window.end, { error: 'start and end must differ', path: ['end'] })
    .optional(),
  weekdays: z.array(WeekdaySchema).min(1, { error: 'must list at least one weekday' }).max(7).optional(),
  timezone: TimeZoneSchema.optional(),
  notAfter: z.iso
    .datetime({ offset: true, error: 'must be an ISO-8601 date-time such as 2030-01-31T18:00:00Z' })
    .optional(),
  regions: z
    .array(z.string().regex(REGION_NAME, { error: 'must be a region name such as us-east-1' }))
    .min(1, { error: 'must list at least one region' })
    .max(POLICY_LIMITS.regions, { error: `must list at most ${POLICY_LIMITS.regions} regions` })
    .optional(),
});

export const PolicyRuleSchema = z.strictObject({
  path: PathPatternSchema,
  capabilities: z
    .array(CapabilitySchema, { error: 'must be an array of capabilities' })
    .min(1, { error: 'must list at least one capability' })
    .max(CAPABILITIES.length * 2),
  conditions: PolicyConditionsSchema.optional(),
});

/**
 * A policy document. Unknown keys are errors, not ignored: a misspelt condition silently dropped would widen a grant.
 * Accepts the reserved name `root` (the built-in document is itself valid); `parsePolicyDocument` refuses it.
 */
export const PolicyDocumentSchema = z.strictObject({
  name: PolicyNameSchema,
  description: z
    .string({ error: 'must be a string' })
    .max(POLICY_LIMITS.descriptionLength, { error: `must be at most ${POLICY_LIMITS.descriptionLength} characters` })
    .optional(),
  rules: z
    .array(PolicyRuleSchema, { error: 'must be an array of rules' })
    .min(1, { error: 'a policy needs at least one rule' })
    .max(POLICY_LIMITS.rules, { error: `a policy holds at most ${POLICY_LIMITS.rules} rules` }),
});

export interface ParsePolicyOptions {
  /**
   * Accept the reserved name `root`; only for checking the built-in document.
   * @default false
   */
  readonly allowReserved?: boolean;
}

/**
 * Validates untrusted input as a policy document.
 * @throws ValidationError whose message names each offending field, e.g. `rules[0].conditions.sourceCidrs[1]`.
 * @example parsePolicyDocument({ name: 'app', rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] })
 */
export function parsePolicyDocument(input: unknown, options: ParsePolicyOptions = {}): PolicyDocument {
  const result = PolicyDocumentSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
    const shown = issues
      .slice(0, 5)
      .map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`));
    const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
    throw new ValidationError(`invalid policy document: ${shown.join('; ')}${more}`, {
      cause: result.error,
      details: { issues },
    });
  }
  if (!options.allowReserved && isReservedPolicyName(result.data.name)) {
    throw new ValidationError(
      `invalid policy document: name: "${ROOT_POLICY_NAME}" is reserved for the built-in policy`,
      {
        details: { issues: [{ path: 'name', message: 'reserved' }] },
      },
    );
  }
  return result.data;
}

/** True for names of built-in policies, which cannot be written or deleted. */
export function isReservedPolicyName(name: string): boolean {
  return name === ROOT_POLICY_NAME;
}

/** `['rules', 0, 'path']` → `rules[0].path`. */
function formatIssuePath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}
