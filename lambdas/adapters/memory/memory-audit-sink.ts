import type { AuditRecord } from '../../core/audit/audit-types.ts';
import { type ChainHead, chainRecord, serialise } from '../../core/audit/hash-chain.ts';
import type { AuditSink } from '../../core/ports/audit-sink.ts';

/**
 * An in-memory audit sink for tests: it chains records exactly as the file sink does, and can be switched to fail,
 * so fail-closed behaviour is testable without a broken disk.
 */
export class MemoryAuditSink implements AuditSink {
  readonly lines: string[] = [];
  /** When set, every append rejects with this error. */
  failWith: Error | undefined;
  private head: ChainHead | undefined;

  async append(record: AuditRecord): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    const chained = chainRecord(this.head, record);
    this.head = { seq: chained.seq, hash: chained.hash };
    this.lines.push(serialise(chained));
  }

  records(): AuditRecord[] {
    return this.lines.map((line) => JSON.parse(line) as AuditRecord);
  }

  async close(): Promise<void> {}
}
