import { SocketAuditSink } from '../adapters/net-audit/socket/socket-audit-sink.ts';
import { SyslogAuditSink } from '../adapters/net-audit/syslog/syslog-audit-sink.ts';
import type { AuditDeviceConfig } from '../core/audit/devices/audit-device-config.ts';
import type { EgressGuard } from '../core/egress/egress-policy.ts';
import type { AuditSink } from '../core/ports/audit-sink.ts';

/** The network audit devices both runtimes offer: syslog and socket, dialling through the node's egress guard. */
export const NETWORK_AUDIT_DEVICE_TYPES = ['syslog', 'socket'] as const;

/**
 * Builds a syslog or socket device; `undefined` for any other type. Nothing is dialled until the first record.
 * @example const sink = openNetworkAuditDevice(config, egress) ?? (await openFileDevice(config));
 */
export function openNetworkAuditDevice(config: AuditDeviceConfig, egress: EgressGuard): AuditSink | undefined {
  switch (config.type) {
    case 'syslog':
      return new SyslogAuditSink(config.options, egress);
    case 'socket':
      return new SocketAuditSink(config.options, egress);
    default:
      return undefined;
  }
}
