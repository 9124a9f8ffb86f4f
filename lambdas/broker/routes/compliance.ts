import * as z from 'zod';
import * as api from '../../api/index.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The compliance report (docs/compliance.md). It names secrets, token display names and refused principals across
 * the whole node, never a value: `read` on `sys/compliance` is an auditor's grant.
 */
export const complianceRoutes: RouteDef[] = [
  defineRoute({
    operation: 'sys.compliance',
    method: 'GET',
    path: '/v1/sys/compliance',
    summary: 'The compliance report: rotation, audit completeness, denials, logins, tokens, stale and expiring items',
    mutating: false,
    response: api.ComplianceReport,
    query: z
      .object({
        since: z
          .string()
          .min(1)
          .max(64)
          .optional()
          .describe(
            'How far back the window reaches: a duration (30d, 12h) or an ISO-8601 instant; default 30d. On AWS, ' +
              'the report its compliance function last computed: only that window (COFFER_COMPLIANCE_WINDOW, 1d ' +
              'by default), which leaving since out selects',
          ),
      })
      .strict(),
    access: () => ({ path: 'sys/compliance', capability: 'read' }),
    async handle({ query }, { deps }) {
      const report = await requireService(deps, 'compliance').report({ since: query.since });
      return {
        body: {
          generatedAt: iso(report.generatedAt),
          window: { since: iso(report.window.since), until: iso(report.window.until) },
          metrics: report.metrics.map((metric) => ({ ...metric })),
        },
      };
    },
  }),
];
