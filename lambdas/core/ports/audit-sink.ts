import type { AuditRecord } from '../audit/audit-types.ts';
import type { AuditDeviceConfig, AuditDeviceType } from '../audit/devices/audit-device-config.ts';

/**
 * Where audit records go. A sink chains records (see `core/audit/hash-chain.ts`) so that tampering is detectable.
 *
 * `append` resolves only once the record is written; if it rejects, the caller must fail the request (fail-closed).
 */
export interface AuditSink {
  /**
   * @param durable when true the record must be on stable storage (fsync) before resolving; used for records of
   *   requests that change state. Otherwise it must at least have reached the OS (survives a process crash).
   */
  append(record: AuditRecord, options: { durable: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the audit devices a runtime offers besides its built-in one (`coffer audit enable <type>`). Opening builds
 * the sink; a network device dials at its first record, so a collector that is down makes the device fail (and
 * show in health), not the enable.
 */
export interface AuditDeviceOpener {
  /** The types it opens, e.g. `['file', 'syslog', 'socket']` locally. */
  readonly types: readonly AuditDeviceType[];
  open(device: AuditDeviceConfig): Promise<AuditSink>;
}
