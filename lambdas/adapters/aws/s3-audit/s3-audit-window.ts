import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { AuditRecord, ChainedAuditRecord } from '../../../core/audit/audit-types.ts';
import { chainRecord } from '../../../core/audit/hash-chain.ts';
import type { AuditChainVerdict, AuditWindowReader } from '../../../core/ports/audit-window.ts';

const SEGMENT_NAME = /^(\d{12})-(\d{12})\.jsonl$/;

export interface S3AuditWindowOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** @default 'audit/' */
  readonly prefix?: string;
}

/**
 * The S3 audit log read back for the compliance report. Objects are immutable and written after the records they
 * hold, so the objects of a window are those last modified at or after its start; every stream (`<prefix><id>/`) is
 * listed, and only those objects are fetched.
 *
 * The chain is verified over the stretch it reads: each object must continue the previous one's seqs, each record must
 * link to the one before and hash to what it carries (the first record's link is taken as given). Older objects
 * are not read: the whole stream is verified offline with `verifyS3AuditStream`.
 *
 * Cost per report: one LIST per 1,000 objects of the bucket's prefix (every object of every stream, since keys name
 * seqs, not times), and one GET per object of the window. The relay writes an object per batch, so a busy hour is a
 * few hundred objects.
 *
 * @example
 * ```ts
 * const reader = new S3AuditWindow({ client: new S3Client({}), bucket: 'coffer-audit' });
 * for await (const record of reader.records(Date.now() - 86_400_000)) console.log(record.operation);
 * ```
 */
export class S3AuditWindow implements AuditWindowReader {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  /** The verdicts of the last read, by its `from`. */
  #verdicts: { from: number; verdicts: AuditChainVerdict[] } | undefined;

  constructor(options: S3AuditWindowOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? 'audit/';
  }

  async *records(from: number): AsyncGenerator<AuditRecord> {
    const verdicts: AuditChainVerdict[] = [];
    for (const stream of await this.#streams()) {
      const verdict = {
        source: `s3://${this.#bucket}/${stream}`,
        ok: true,
        records: 0,
        reason: undefined as string | undefined,
      };
      let last: { seq: number; hash: string } | undefined;
      for (const { key, first, lastSeq } of await this.#objects(stream, from)) {
        if (verdict.ok && last !== undefined && first !== last.seq + 1) {
          verdict.ok = false;
          verdict.reason = `missing object: seqs ${last.seq + 1}-${first - 1} are absent before ${key}`;
        }
        const body = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
        const text = (await body.Body?.transformToString('utf8')) ?? '';
        const lines = text.split('\n').filter((line) => line !== '');
        if (verdict.ok && lines.length !== lastSeq - first + 1) {
          verdict.ok = false;
          verdict.reason = `${key} holds ${lines.length} lines but its name promises ${lastSeq - first + 1} records`;
        }
        for (const [index, line] of lines.entries()) {
          const record = parse(line);
          const problem = record === undefined ? 'not a chained record' : linkProblem(record, last);
          if (verdict.ok && problem !== undefined) {
            verdict.ok = false;
            verdict.reason = `${key} line ${index + 1}: ${problem}`;
          }
          if (record === undefined) continue;
          last = { seq: record.seq, hash: record.hash };
          if (verdict.ok) verdict.records += 1;
          yield record;
        }
      }
      const { reason, ...rest } = verdict;
      verdicts.push(reason === undefined ? rest : { ...rest, reason });
    }
    this.#verdicts = { from, verdicts };
  }

  async verify(from: number): Promise<readonly AuditChainVerdict[]> {
    if (this.#verdicts?.from !== from) for await (const _ of this.records(from));
    return this.#verdicts?.verdicts ?? [];
  }

  /** The stream folders under the prefix. */
  async #streams(): Promise<string[]> {
    const streams: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const { Prefix: folder } of page.CommonPrefixes ?? []) if (folder !== undefined) streams.push(folder);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return streams.sort();
  }

  /** The segments of `folder` written at or after `from`, in seq order. */
  async #objects(folder: string, from: number): Promise<{ key: string; first: number; lastSeq: number }[]> {
    const objects: { key: string; first: number; lastSeq: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: folder, ContinuationToken: token }),
      );
      for (const { Key: key, LastModified: modified } of page.Contents ?? []) {
        const name = key === undefined ? null : SEGMENT_NAME.exec(key.slice(folder.length));
        // S3's times have whole seconds: an object of the second `from` falls in is read too.
        if (key === undefined || name === null || (modified !== undefined && modified.getTime() < from - 1000))
          continue;
        objects.push({ key, first: Number(name[1]), lastSeq: Number(name[2]) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects.sort((a, b) => a.first - b.first);
  }
}

/** Why `record` does not continue the chain after `last` (or carry its own hash), or undefined when it does. */
function linkProblem(record: ChainedAuditRecord, last: { seq: number; hash: string } | undefined): string | undefined {
  if (last !== undefined && (record.seq !== last.seq + 1 || record.prev !== last.hash)) {
    return `seq ${record.seq} does not link to seq ${last.seq}`;
  }
  const prev = record.seq === 1 ? undefined : { seq: record.seq - 1, hash: record.prev };
  return chainRecord(prev, record).hash === record.hash ? undefined : `seq ${record.seq} does not match its hash`;
}

function parse(line: string): ChainedAuditRecord | undefined {
  try {
    const value = JSON.parse(line) as Partial<ChainedAuditRecord> | null;
    return typeof value?.seq === 'number' && typeof value.hash === 'string' && typeof value.time === 'string'
      ? (value as ChainedAuditRecord)
      : undefined;
  } catch {
    return undefined;
  }
}
