import type { AuditRecord } from '../audit/audit-types.ts';

/** Whether one hash chain of the audit log verifies, as the compliance report names it. */
export interface AuditChainVerdict {
  /** Which chain: the audit file, an S3 stream. Never a secret. */
  readonly source: string;
  readonly ok: boolean;
  /** Records verified before the verdict. */
  readonly records: number;
  /** Why it failed (first bad record), or what could not be ruled out. */
  readonly reason?: string;
}

/**
 * Reads back the audit log of a time window, for the figures that only the log knows (who was refused, what was
 * read, whether every request has its records). Local: the audit file the server writes; AWS: the S3 audit objects.
 */
export interface AuditWindowReader {
  /**
   * Every record written at or after `from` (epoch ms), in the order they were written. It may give older records
   * too (the caller filters by `time`); it must not leave out any record at or after `from`.
   */
  records(from: number): AsyncIterable<AuditRecord>;
  /** Verifies the hash chains holding the records `records(from)` reads. */
  verify(from: number): Promise<readonly AuditChainVerdict[]>;
}
