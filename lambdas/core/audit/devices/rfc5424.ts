import { SYSLOG_FACILITIES } from './audit-device-config.ts';

/** RFC 5424 severities a record is sent at: a refusal or error is a notice, the rest informational. */
const SEVERITY = { notice: 5, informational: 6 } as const;

export interface SyslogHeader {
  readonly facility: (typeof SYSLOG_FACILITIES)[number];
  readonly appName: string;
  /** The sender's host name (RFC 5424 HOSTNAME): at most 255 printable ASCII characters. @default `-` (nil) */
  readonly hostname?: string;
  /** @default `-` (nil) */
  readonly procId?: string;
}

const NIL = '-';
const PRINTABLE = /^[\x21-\x7e]+$/;

function field(value: string | undefined, max: number): string {
  return value !== undefined && value.length <= max && PRINTABLE.test(value) ? value : NIL;
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, the MSG being the device's JSON
 * record. MSGID is the record type (`request`, `response`, `system`); there is no structured data. The timestamp is
 * the record's own time (RFC 3339, UTC).
 *
 * @example
 * formatRfc5424({ facility: 'auth', appName: 'coffer' }, { type: 'request', time: '2026-01-01T00:00:00.000Z' }, json)
 * // '<38>1 2026-01-01T00:00:00.000Z - coffer - request - {"type":"request",…}'
 */
export function formatRfc5424(
  header: SyslogHeader,
  record: { readonly type: string; readonly time: string; readonly outcome?: string },
  json: string,
): string {
  const severity = record.outcome === 'denied' || record.outcome === 'error' ? SEVERITY.notice : SEVERITY.informational;
  const pri = SYSLOG_FACILITIES.indexOf(header.facility) * 8 + severity;
  return `<${pri}>1 ${field(record.time, 64)} ${field(header.hostname, 255)} ${field(header.appName, 48)} ${field(header.procId, 128)} ${field(record.type, 32)} - ${json}`;
}

/** RFC 6587 octet counting, as RFC 5425 (TLS) requires and TCP collectors accept: `<length in bytes> <message>`. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
