import * as z from 'zod';

/** What this node has seen of a device since it started: counts, times and an error class, never a record. */
export const AuditDeviceHealth = z.object({
  recorded: z.number().describe('records it took'),
  failures: z.number().describe('records it failed to take'),
  consecutiveFailures: z.number().describe('failures since its last success (0: healthy)'),
  lastSuccessAt: z.string().optional().describe('ISO-8601'),
  lastFailureAt: z.string().optional().describe('ISO-8601'),
  lastError: z.string().optional().describe('the class of the last error (an errno code or error name), no message'),
});

/** One enabled audit device (`GET /v1/sys/audit-devices`, `PUT /v1/sys/audit-devices/{path}`). */
export const AuditDevice = z.object({
  path: z.string(),
  type: z.string().describe('file, syslog, socket or s3'),
  builtin: z.boolean().describe("the runtime's own device: the node's audit file, or the outbox to S3 on AWS"),
  description: z.string(),
  format: z.literal('json'),
  options: z
    .record(z.string(), z.unknown())
    .describe('the settings it was enabled with (a CA bundle shown as "(set)")'),
  filters: z
    .object({
      exclude_operations: z.array(z.string()),
      exclude_paths: z.array(z.string()),
      drop_request_keys: z.array(z.string()),
      drop_response_keys: z.array(z.string()),
    })
    .optional(),
  createdAt: z.string().optional().describe('ISO-8601; absent for the built-in device'),
  health: AuditDeviceHealth.optional().describe("this node's view; absent until the node has loaded the device"),
});
export type AuditDevice = z.infer<typeof AuditDevice>;

export const AuditDeviceList = z.object({ devices: z.array(AuditDevice) });

/** The audit part of `GET /v1/sys/health`: how many devices record, how many are failing. No names. */
export const AuditHealthSummary = z.object({
  devices: z.number().describe('enabled audit devices this node writes to'),
  failing: z.number().describe('of them, those whose last write failed'),
});
