import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { AuditRecord } from '../../../core/audit/audit-types.ts';
import type { AuditChainVerdict, AuditWindowReader } from '../../../core/ports/audit-window.ts';
import { verifyAuditFile } from './file-audit-sink.ts';

/**
 * The local audit file read back for the compliance report: streamed line by line (any size), records older than
 * the window skipped, and the file's chain verified against its head anchor as `GET /v1/sys/audit/verify` does. A
 * line that does not parse is skipped here: the chain's verdict names it.
 *
 * @example
 * ```ts
 * const reader = new AuditFileWindow('/var/lib/coffer/audit.log');
 * for await (const record of reader.records(Date.now() - 86_400_000)) console.log(record.operation);
 * ```
 */
export class AuditFileWindow implements AuditWindowReader {
  readonly #path: string;

  constructor(logPath: string) {
    this.#path = logPath;
  }

  async *records(from: number): AsyncGenerator<AuditRecord> {
    const input = (await open(this.#path, 'r')).createReadStream();
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        const record = parse(line);
        if (record !== undefined && Date.parse(record.time) >= from) yield record;
      }
    } finally {
      lines.close();
      input.destroy();
    }
  }

  async verify(): Promise<readonly AuditChainVerdict[]> {
    const result = await verifyAuditFile(this.#path);
    if (!result.ok) {
      return [
        { source: 'audit file', ok: false, records: result.records, reason: `line ${result.line}: ${result.reason}` },
      ];
    }
    return [
      {
        source: 'audit file',
        ok: true,
        records: result.records,
        ...(!result.anchored && { reason: 'intact, but its end is not anchored: a truncation cannot be ruled out' }),
      },
    ];
  }
}

function parse(line: string): AuditRecord | undefined {
  try {
    const value = JSON.parse(line) as Partial<AuditRecord> | null;
    return typeof value?.time === 'string' && typeof value.type === 'string' ? (value as AuditRecord) : undefined;
  } catch {
    return undefined;
  }
}
