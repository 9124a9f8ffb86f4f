import * as z from 'zod';

export const PolicyNames = z.object({ policies: z.array(z.string()) });

export const PolicyDocument = z.object({
  name: z.string(),
  description: z.string().optional(),
  rules: z.array(
    z.object({
      path: z.string(),
      capabilities: z.array(z.string()),
      conditions: z.unknown().optional().describe('As written: source CIDRs, time windows, ...'),
    }),
  ),
});
export type PolicyDocument = z.infer<typeof PolicyDocument>;

export const PolicyDeleted = z.object({ name: z.string(), deleted: z.boolean() });

const RuleRef = z.object({ policy: z.string(), rule: z.number(), path: z.string() });
const ConsideredRule = RuleRef.extend({
  matched: z.boolean(),
  conditionsMet: z.boolean(),
  unmetCondition: z.string().optional(),
});

/**
 * How a request would be decided. When policies the caller may not read took part, `hiddenPolicies` names them, the
 * reason says only that, and `readableOnly` tells how the readable policies alone decide.
 */
export const PolicyTestResult = z.object({
  policies: z.array(z.string()),
  allowed: z.boolean(),
  reason: z.string(),
  decidedBy: RuleRef.optional(),
  considered: z.array(ConsideredRule),
  hiddenPolicies: z.array(z.string()).optional(),
  readableOnly: z.object({ allowed: z.boolean(), reason: z.string(), decidedBy: RuleRef.optional() }).optional(),
});
export type PolicyTestResult = z.infer<typeof PolicyTestResult>;
