import * as z from 'zod';
import { patternProblem } from '../../policy/path-pattern.ts';

/** The kinds of audit device, as `coffer audit enable <type>` names them (Vault's, plus S3 on AWS). */
export const AUDIT_DEVICE_TYPES = ['file', 'syslog', 'socket', 's3'] as const;
export type AuditDeviceType = (typeof AUDIT_DEVICE_TYPES)[number];

/** Where a device is enabled, `sys/audit-devices/<path>`: by default its type. */
export const AuditDevicePathSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
  error: 'must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit',
});

/** `host:port`, `[v6]:port`: a network target, which must also pass the egress allow-list when the device opens. */
const AddressSchema = z
  .string()
  .max(260)
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { error: 'must be host:port (IPv6 as [addr]:port)' })
  .refine((address) => {
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65_535;
  }, 'port must be 1-65535');

/** RFC 5424 facilities by name (section 6.2.1), numbered in order. */
export const SYSLOG_FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

/** RFC 5424 APP-NAME and MSGID are PRINTUSASCII without spaces, at most 48 and 32 characters. */
const PrintUsAscii = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' });

const PemBundleSchema = z
  .string()
  .max(256 * 1024)
  .refine((pem) => pem.includes('-----BEGIN CERTIFICATE-----'), 'must be PEM certificates');

export const FileDeviceOptionsSchema = z.strictObject({
  /**
   * The log's file name in the node's audit directory. Not a path: a caller who may enable devices must not choose
   * which file of the host the server appends to (or cuts a torn last line from). @default `<path>.log`
   */
  file_name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.log$/, {
      error: 'must be a file name ending in .log (letters, digits, . _ -), not a path',
    })
    .optional(),
});

export const SyslogDeviceOptionsSchema = z.strictObject({
  address: AddressSchema,
  /** udp (RFC 5426), tcp (RFC 6587 octet counting) or tls (RFC 5425). @default udp, as Vault's syslog device */
  transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  facility: z.enum(SYSLOG_FACILITIES).default('auth'),
  /** The RFC 5424 APP-NAME (Vault calls it the tag). @default coffer */
  app_name: PrintUsAscii(48).default('coffer'),
  /** Certificates that may sign the collector's (PEM). @default the system's trusted CAs */
  ca_pem: PemBundleSchema.optional(),
  /** The name the collector's certificate must carry. @default the host of `address` */
  server_name: z.string().max(253).optional(),
});

export const SocketDeviceOptionsSchema = z.strictObject({
  address: AddressSchema,
  socket_type: z.enum(['tcp', 'udp']).default('tcp'),
});

export const S3DeviceOptionsSchema = z.strictObject({});

/**
 * What a device leaves out. A record is excluded when its operation is listed or its policy path matches one of the
 * globs (policy path patterns: a trailing `*`, `+` for one segment). Dropped keys are removed from the request and
 * response data at any depth before the record is hashed and written.
 */
export const AuditDeviceFiltersSchema = z.strictObject({
  exclude_operations: z.array(z.string().min(1).max(100)).max(100).default([]),
  exclude_paths: z
    .array(
      z
        .string()
        .min(1)
        .max(512)
        .superRefine((glob, ctx) => {
          const problem = patternProblem(glob);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
          else if (glob.includes('{{')) ctx.addIssue({ code: 'custom', message: 'templates have no caller here' });
        }),
    )
    .max(100)
    .default([]),
  drop_request_keys: z.array(z.string().min(1).max(100)).max(100).default([]),
  drop_response_keys: z.array(z.string().min(1).max(100)).max(100).default([]),
});
export type AuditDeviceFilters = z.infer<typeof AuditDeviceFiltersSchema>;

const common = {
  description: z.string().max(256).default(''),
  /** JSON records; a syslog device carries the JSON record as the RFC 5424 MSG. */
  format: z.enum(['json']).default('json'),
  filters: AuditDeviceFiltersSchema.default({
    exclude_operations: [],
    exclude_paths: [],
    drop_request_keys: [],
    drop_response_keys: [],
  }),
};

/** The body of `PUT /v1/sys/audit-devices/<path>`. */
export const EnableAuditDeviceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('file'), options: FileDeviceOptionsSchema.default({}), ...common }),
  z.strictObject({ type: z.literal('syslog'), options: SyslogDeviceOptionsSchema, ...common }),
  z.strictObject({ type: z.literal('socket'), options: SocketDeviceOptionsSchema, ...common }),
  z.strictObject({ type: z.literal('s3'), options: S3DeviceOptionsSchema.default({}), ...common }),
]);
export type EnableAuditDevice = z.infer<typeof EnableAuditDeviceSchema>;
export type SyslogDeviceOptions = z.infer<typeof SyslogDeviceOptionsSchema>;
export type SocketDeviceOptions = z.infer<typeof SocketDeviceOptionsSchema>;

/** A device as the store keeps it: its settings, and its HMAC key wrapped under the envelope key. */
export type AuditDeviceConfig = EnableAuditDevice & { readonly path: string };

/** Splits `host:port` / `[v6]:port`. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) };
}
