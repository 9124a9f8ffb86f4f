import type { AuditSink } from '../../ports/audit-sink.ts';
import type { AuditRecord } from '../audit-types.ts';
import type { AuditOutbox } from './audit-outbox.ts';

/**
 * The audit sink of the AWS runtime: records go to the audit outbox in the items table (see {@link AuditOutbox}),
 * never straight to S3. Inside a request, `append` only queues a record until a change carries it; the response
 * record writes whatever is still queued, and rejects if that write fails, so the broker fails the request
 * (fail-closed). Every write is durable (a DynamoDB write), so `durable` needs no special handling.
 *
 * @example
 * ```ts
 * const audit = new AuditLog({ sink: new OutboxAuditSink(outbox), hasher });
 * ```
 */
export class OutboxAuditSink implements AuditSink {
  readonly #outbox: AuditOutbox;

  constructor(outbox: AuditOutbox) {
    this.#outbox = outbox;
  }

  append(record: AuditRecord, _options: { durable: boolean }): Promise<void> {
    return this.#outbox.append(record);
  }

  /** Nothing is buffered across requests: every request scope writes its records before it ends. */
  async close(): Promise<void> {}
}
