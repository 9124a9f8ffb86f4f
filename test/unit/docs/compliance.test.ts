import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPLIANCE_METRIC_IDS } from '../../../lambdas/api/compliance.ts';
import { complianceMetrics } from '../../../lambdas/core/compliance/compliance-metrics.ts';
import {
  AUDIT_CHAINS_FAILED_METRIC,
  AUDIT_GAPS_METRIC,
  COMPLIANCE_METRICS,
} from '../../../lambdas/entrypoints/lambda/deployment-names.ts';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../../docs/compliance.md'), 'utf8');

describe('docs/compliance.md', () => {
  it('defines every metric the report answers, in the order it answers them', () => {
    const computed = complianceMetrics({ since: 0, until: 86_400_000, secrets: [], tokens: [] }).map((m) => m.id);
    expect(computed).toEqual([...COMPLIANCE_METRIC_IDS]);
    const rows = [...DOC.matchAll(/^\| `([a-z_]+)` \| (percent|count|seconds|ratio) \|/gm)].map((m) => m[1]);
    expect(rows).toEqual([...COMPLIANCE_METRIC_IDS]);
  });

  it('names the CloudWatch metric of every figure', () => {
    for (const [id, metric] of Object.entries(COMPLIANCE_METRICS)) {
      expect(DOC, id).toMatch(new RegExp(`\\| \`${id}\` \\| \`${metric}\``));
    }
    expect(DOC).toContain(AUDIT_GAPS_METRIC);
    expect(DOC).toContain(AUDIT_CHAINS_FAILED_METRIC);
  });

  it('gives each metric the unit the report gives it', () => {
    const units = Object.fromEntries(
      complianceMetrics({ since: 0, until: 86_400_000, secrets: [], tokens: [] }).map((m) => [m.id, m.unit]),
    );
    for (const [, id, unit] of DOC.matchAll(/^\| `([a-z_]+)` \| (percent|count|seconds|ratio) \|/gm)) {
      expect(unit, id).toBe(units[id!]);
    }
  });
});
