import * as z from 'zod';
import { AuditHealthSummary } from './audit-devices.ts';

export const Health = z.object({
  status: z.string().describe('"ok"'),
  version: z.string(),
  runtime: z.string(),
  initialized: z.boolean(),
  audit: AuditHealthSummary.optional(),
});
export type Health = z.infer<typeof Health>;

/** `GET /v1/sys/metrics`: the node's counters since it started. */
export const Metrics = z.object({
  since: z.string().describe('when counting began (the node started), ISO-8601'),
  logins: z.array(
    z.object({
      method: z.string(),
      mount: z.string(),
      succeeded: z.number().int(),
      failed: z.number().int().describe('refused credentials'),
    }),
  ),
});
export type Metrics = z.infer<typeof Metrics>;

/** This API as an OpenAPI 3.1 document. */
export const OpenApiDocument = z.record(z.string(), z.unknown());

export const AuditHash = z.object({ hash: z.string().describe('HMAC-SHA256 with the audit salt, as in records') });

const ChainHead = z.object({ seq: z.number(), hash: z.string() });
const anchorFields = {
  anchored: z
    .boolean()
    .optional()
    .describe("false: no anchor covers the log's end, so records cut from it cannot be ruled out"),
  anchor: ChainHead.optional().describe('The head anchor the log was checked against'),
};

export const AuditVerified = z.union([
  z.object({
    ok: z.literal(true),
    records: z.number(),
    last: ChainHead.optional().describe('The last record: the anchor to record elsewhere as `<seq>:<hash>`'),
    ...anchorFields,
  }),
  z.object({
    ok: z.literal(false),
    records: z.number().describe('Records that verified before the first bad line'),
    line: z.number().describe('1-based number of the first bad line'),
    seq: z.number().optional(),
    reason: z.string(),
    ...anchorFields,
  }),
]);

export const AuditTail = z.object({
  records: z.array(z.unknown()).describe('Audit records as written (values HMAC-redacted)'),
});

export const RootKeyRotated = z.object({
  keyId: z.string(),
  rewrapped: z.number().describe('Data keys re-wrapped under the new root key'),
  retired: z.array(z.string()),
});
