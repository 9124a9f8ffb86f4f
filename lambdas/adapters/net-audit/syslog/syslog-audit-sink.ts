import { hostname } from 'node:os';
import type { AuditRecord } from '../../../core/audit/audit-types.ts';
import type { SyslogDeviceOptions } from '../../../core/audit/devices/audit-device-config.ts';
import { splitAddress } from '../../../core/audit/devices/audit-device-config.ts';
import { formatRfc5424, octetCounted } from '../../../core/audit/devices/rfc5424.ts';
import { escapeForLine } from '../../../core/audit/hash-chain.ts';
import type { EgressGuard } from '../../../core/egress/egress-policy.ts';
import type { AuditSink } from '../../../core/ports/audit-sink.ts';
import { NetTransport } from '../net-transport.ts';

/**
 * The syslog audit device: each record as one RFC 5424 message whose MSG is the JSON record, over UDP (RFC 5426, one
 * datagram per message), TCP (RFC 6587 octet counting) or TLS (RFC 5425, octet counting).
 *
 * @example
 * ```ts
 * const sink = new SyslogAuditSink({ address: 'logs.example.com:6514', transport: 'tls', facility: 'auth',
 *   app_name: 'coffer' }, egress);
 * await sink.append(record, { durable: true });
 * ```
 */
export class SyslogAuditSink implements AuditSink {
  readonly #options: SyslogDeviceOptions;
  readonly #transport: NetTransport;
  readonly #hostname: string;

  constructor(options: SyslogDeviceOptions, egress: EgressGuard, settings: { timeoutMs?: number } = {}) {
    this.#options = options;
    const { host, port } = splitAddress(options.address);
    this.#transport = new NetTransport(
      {
        host,
        port,
        transport: options.transport,
        ...(options.ca_pem !== undefined && { caPem: options.ca_pem }),
        ...(options.server_name !== undefined && { serverName: options.server_name }),
      },
      egress,
      { purpose: 'syslog audit device', ...settings },
    );
    this.#hostname = hostname();
  }

  append(record: AuditRecord, _options: { durable: boolean }): Promise<void> {
    const message = formatRfc5424(
      { facility: this.#options.facility, appName: this.#options.app_name, hostname: this.#hostname },
      record,
      escapeForLine(JSON.stringify(record)),
    );
    return this.#transport.send(
      this.#options.transport === 'udp' ? Buffer.from(message, 'utf8') : octetCounted(message),
    );
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}
