import type { AuditRecord } from '../../../core/audit/audit-types.ts';
import type { SocketDeviceOptions } from '../../../core/audit/devices/audit-device-config.ts';
import { splitAddress } from '../../../core/audit/devices/audit-device-config.ts';
import { escapeForLine } from '../../../core/audit/hash-chain.ts';
import type { EgressGuard } from '../../../core/egress/egress-policy.ts';
import type { AuditSink } from '../../../core/ports/audit-sink.ts';
import { NetTransport } from '../net-transport.ts';

/**
 * The socket audit device (Vault's `socket`): each record as one JSON line over a TCP connection, or one JSON
 * datagram over UDP, to a collector such as Fluent Bit, Vector or Logstash.
 *
 * @example
 * ```ts
 * const sink = new SocketAuditSink({ address: 'collector.internal:9000', socket_type: 'tcp' }, egress);
 * ```
 */
export class SocketAuditSink implements AuditSink {
  readonly #transport: NetTransport;

  constructor(options: SocketDeviceOptions, egress: EgressGuard, settings: { timeoutMs?: number } = {}) {
    const { host, port } = splitAddress(options.address);
    this.#transport = new NetTransport({ host, port, transport: options.socket_type }, egress, {
      purpose: 'socket audit device',
      ...settings,
    });
  }

  append(record: AuditRecord, _options: { durable: boolean }): Promise<void> {
    return this.#transport.send(Buffer.from(`${escapeForLine(JSON.stringify(record))}\n`, 'utf8'));
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}
