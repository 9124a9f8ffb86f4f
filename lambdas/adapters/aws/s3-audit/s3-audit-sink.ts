import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AuditRecord } from '../../../core/audit/audit-types.ts';
import {
  type ChainHead,
  chainRecord,
  serialise,
  type VerifyResult,
  verifyChain,
} from '../../../core/audit/hash-chain.ts';
import type { AuditSegmentStore } from '../../../core/audit/outbox/outbox-relay.ts';
import { ValidationError } from '../../../core/errors.ts';
import { GroupCommit } from '../../../core/group-commit.ts';
import { Mutex } from '../../../core/mutex.ts';
import type { AuditSink } from '../../../core/ports/audit-sink.ts';
import { type Clock, systemClock } from '../../../core/ports/clock.ts';

/** Digits of the zero-padded seqs in a segment key, so that key order (what S3 lists) is seq order. */
const SEQ_DIGITS = 12;
const MAX_SEQ = 10 ** SEQ_DIGITS - 1;
const SEGMENT_NAME = /^(\d{12})-(\d{12})\.jsonl$/;
/** A stream id is one path segment: no `/`, so one stream's prefix is never a prefix of another's objects. */
const STREAM_ID = /^[A-Za-z0-9._-]{1,128}$/;
const DAY_MS = 86_400_000;

/** Per-object Object Lock retention; see {@link S3AuditSinkOptions.retention}. */
export interface S3AuditRetention {
  /** `COMPLIANCE`: nobody can shorten it. `GOVERNANCE`: principals allowed to bypass governance can. */
  readonly mode: 'COMPLIANCE' | 'GOVERNANCE';
  /** Whole days from the write. */
  readonly days: number;
}

export interface S3AuditSinkOptions {
  /** The S3 client, injected so tests can point it at an emulator or mock it. */
  readonly client: S3Client;
  /** The audit bucket: versioned, Object-Locked (see `CofferControlPlane.auditBucket`). */
  readonly bucket: string;
  /**
   * Key prefix under which every stream has its own folder `<prefix><streamId>/`.
   * @default 'audit/'
   */
  readonly prefix?: string;
  /**
   * Names this sink's chain. Every instance writes its own chain, so two Lambda instances never have to agree on a
   * chain head. Letters, digits, `.`, `_` and `-`, at most 128.
   * @default `<UTC start time>-<16 random hex digits>`, so a listing of the prefix shows streams in start order
   */
  readonly streamId?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Most records in one object. A larger queue is written as several objects, one after the other.
   * @default 1000
   */
  readonly maxBatch?: number;
  /**
   * Object Lock retention set on every object. Leave it out when the bucket has a default retention (the Coffer
   * control plane sets one): the bucket's rule then governs, and changing it needs no redeploy of the writers.
   * @default none: the bucket's default retention applies
   */
  readonly retention?: S3AuditRetention;
}

/** The audit stream cannot be written. Its message never contains record contents. */
export class S3AuditError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3AuditError';
  }
}

/** `<prefix><streamId>/`: the folder holding one stream's segments. */
export function streamPrefix(prefix: string, streamId: string): string {
  return `${prefix}${streamId}/`;
}

/**
 * The key of the segment holding seqs `first`..`last` of a stream.
 *
 * @example
 * ```ts
 * segmentKey('audit/', 'i-1', 1, 42); // 'audit/i-1/000000000001-000000000042.jsonl'
 * ```
 */
export function segmentKey(prefix: string, streamId: string, first: number, last: number): string {
  const pad = (seq: number) => String(seq).padStart(SEQ_DIGITS, '0');
  return `${streamPrefix(prefix, streamId)}${pad(first)}-${pad(last)}.jsonl`;
}

/**
 * The AWS audit device: each instance writes one hash-chained stream (seq 1 after the genesis hash) as a series of
 * immutable S3 objects, `<prefix><streamId>/<first seq>-<last seq>.jsonl`, one chained JSON line per record.
 *
 * S3 is the durable store, so every append — durable or not — resolves only after the `PutObject` holding it
 * succeeded. Appends made in the same event-loop turn, or while a write is in flight, share one object (group
 * commit); only one `PutObject` is in flight at a time, so objects hold the chain in call order. `IfNoneMatch: '*'`
 * makes S3 refuse to overwrite a key, and the bucket's Object Lock keeps every version for the retention period.
 *
 * A failed write leaves the stream's state unknown (the object may or may not exist), so the sink rejects that batch
 * and every later append: fail-closed. Recovery is a new sink, i.e. a new stream (a new Lambda instance).
 * One consequence: if S3 stored an object but the answer was lost, the SDK's retry meets `PreconditionFailed` and
 * the sink breaks even though the records are safe; the stream still verifies.
 *
 * @example
 * ```ts
 * const sink = new S3AuditSink({ client: new S3Client({}), bucket: process.env.AUDIT_BUCKET! });
 * await sink.append(record, { durable: true });
 * ```
 */
export class S3AuditSink implements AuditSink {
  readonly bucket: string;
  readonly prefix: string;
  readonly streamId: string;
  readonly #client: S3Client;
  readonly #clock: Clock;
  readonly #maxBatch: number;
  readonly #retention: S3AuditRetention | undefined;
  /** The last record known to be stored: the chain continues from here. */
  #last: ChainHead | undefined;
  /** Serialises flushes and close: only one PutObject is in flight, so the chain reaches S3 in order. */
  readonly #io = new Mutex();
  /** Every record appended by requests handled in one event-loop turn shares one object, up to `maxBatch`. */
  readonly #commits: GroupCommit<AuditRecord>;
  #broken: S3AuditError | undefined;
  #closing: Promise<void> | undefined;

  /** @throws ValidationError when an option is out of range */
  constructor(options: S3AuditSinkOptions) {
    this.#client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'audit/';
    this.#clock = options.clock ?? systemClock;
    this.streamId = options.streamId ?? defaultStreamId(this.#clock);
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#retention = options.retention;
    if (options.bucket === '') throw new ValidationError('audit bucket name is empty');
    if (!STREAM_ID.test(this.streamId)) {
      throw new ValidationError('audit stream id must be 1-128 letters, digits, ".", "_" or "-"');
    }
    if (!Number.isSafeInteger(this.#maxBatch) || this.#maxBatch < 1) {
      throw new ValidationError('maxBatch must be a positive integer');
    }
    const days = this.#retention?.days;
    if (days !== undefined && (!Number.isSafeInteger(days) || days < 1)) {
      throw new ValidationError('audit retention must be a positive whole number of days');
    }
    this.#commits = new GroupCommit({
      maxBatch: this.#maxBatch,
      exclusive: (section) => this.#io.run(section),
      commit: (batch) => this.#writeSegment(batch),
    });
  }

  append(record: AuditRecord, _options: { durable: boolean }): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(new S3AuditError('audit stream is closed'));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return this.#commits.add(record);
  }

  /** Writes what is queued, then refuses later appends. Rejects if that last write failed. */
  close(): Promise<void> {
    this.#closing ??= this.#io.run(async () => {
      const failedBefore = this.#broken;
      await this.#commits.drain();
      if (this.#broken !== undefined && this.#broken !== failedBefore) {
        throw new S3AuditError('closing the audit stream failed', { cause: this.#broken });
      }
    });
    return this.#closing;
  }

  /** Chains and stores one batch as one object; per record, `undefined` when stored or why it was not. */
  async #writeSegment(batch: readonly AuditRecord[]): Promise<unknown[]> {
    if (this.#broken !== undefined) throw this.#broken;
    let last = this.#last;
    const first = (last?.seq ?? 0) + 1;
    const lines: string[] = [];
    const outcomes: unknown[] = [];
    for (const record of batch) {
      try {
        const chained = chainRecord(last, record);
        lines.push(serialise(chained));
        last = { seq: chained.seq, hash: chained.hash };
        outcomes.push(undefined);
      } catch (err) {
        // A record that cannot be serialised (a bug in its producer) fails alone, not the whole batch.
        outcomes.push(err);
      }
    }
    if (last === undefined || lines.length === 0) return outcomes;
    if (last.seq > MAX_SEQ) {
      this.#broken = new S3AuditError('audit stream is full; start a new stream');
      return outcomes.map((outcome) => outcome ?? this.#broken);
    }
    const key = segmentKey(this.prefix, this.streamId, first, last.seq);
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${lines.join('\n')}\n`,
          ContentType: 'application/x-ndjson',
          // Object Lock puts need an integrity header; SHA-256 also lets S3 reject a body damaged on the way.
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
          ...this.#lockFields(),
        }),
      );
    } catch (cause) {
      this.#broken = new S3AuditError(
        `audit object ${key} could not be written (${errorName(cause)}); appends are refused since the stream's ` +
          'chain state is unknown',
        { cause },
      );
      return outcomes.map((outcome) => outcome ?? this.#broken);
    }
    this.#last = last;
    return outcomes;
  }

  #lockFields(): { ObjectLockMode?: S3AuditRetention['mode']; ObjectLockRetainUntilDate?: Date } {
    const retention = this.#retention;
    if (retention === undefined) return {};
    return {
      ObjectLockMode: retention.mode,
      ObjectLockRetainUntilDate: new Date(this.#clock.now() + retention.days * DAY_MS),
    };
  }
}

function defaultStreamId(clock: Clock): string {
  const started = new Date(clock.now()).toISOString().replace(/[-:]|\.\d+/g, '');
  return `${started}-${randomBytes(8).toString('hex')}`;
}

function errorName(err: unknown): string {
  const name = (err as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : 'unknown error';
}

type Failure = Extract<VerifyResult, { ok: false }>;

/**
 * What {@link verifyS3AuditStream} found. `line` counts lines across the stream's objects in key order; a failure
 * also names the object (`key`) and says which of its lines in `reason`.
 */
export type S3AuditVerifyResult =
  | (Extract<VerifyResult, { ok: true }> & { readonly objects: number })
  | (Failure & { readonly key?: string });

interface Segment {
  readonly key: string;
  /** Stream line number of the segment's first line. */
  readonly firstLine: number;
}

/**
 * Verifies one stream written by {@link S3AuditSink}: lists its objects in key order (seq order) and streams their
 * lines through the hash chain, naming the first bad spot. Beyond what the chain catches (altered, reordered,
 * inserted records), the object names are checked: each object must continue the stream exactly where the previous
 * one ended (a missing object is a seq gap) and hold as many records as its name says (so lines cut from the end
 * of the last object are caught). Objects lost from the very end of the stream cannot be seen.
 *
 * It reads the current version of each object; older versions stay in the bucket for the retention period.
 *
 * @example
 * ```ts
 * const result = await verifyS3AuditStream(client, 'coffer-audit', 'audit/', streamId);
 * if (!result.ok) console.error(`${result.key}: ${result.reason}`);
 * ```
 */
export async function verifyS3AuditStream(
  client: S3Client,
  bucket: string,
  prefix: string,
  streamId: string,
): Promise<S3AuditVerifyResult> {
  const folder = streamPrefix(prefix, streamId);
  const segments: Segment[] = [];
  let structural: (Omit<Failure, 'records'> & { key: string }) | undefined;

  async function* lines(): AsyncGenerator<string> {
    let lineNo = 0;
    let nextSeq = 1;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, ContinuationToken: token }),
      );
      for (const { Key: key } of page.Contents ?? []) {
        if (key === undefined) continue;
        const name = SEGMENT_NAME.exec(key.slice(folder.length));
        const line = lineNo + 1;
        if (name === null) {
          structural = { ok: false, key, line, reason: `object ${key} is not a segment of this stream` };
          return;
        }
        const first = Number(name[1]);
        const last = Number(name[2]);
        if (first !== nextSeq) {
          const reason =
            first > nextSeq
              ? `missing object: seqs ${nextSeq}-${first - 1} are absent before object ${key}`
              : `object ${key} starts at seq ${first} but the stream continues at seq ${nextSeq}`;
          structural = { ok: false, key, line, seq: nextSeq, reason };
          return;
        }
        if (last < first) {
          structural = { ok: false, key, line, seq: first, reason: `object ${key} names an empty seq range` };
          return;
        }
        segments.push({ key, firstLine: line });
        const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const text = (await body.Body?.transformToString('utf8')) ?? '';
        const objectLines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
        for (const objectLine of objectLines) {
          lineNo++;
          yield objectLine;
        }
        const expected = last - first + 1;
        if (objectLines.length !== expected) {
          structural = {
            ok: false,
            key,
            line: lineNo + 1,
            seq: first + Math.min(objectLines.length, expected),
            reason: `object ${key} holds ${objectLines.length} lines but its name promises ${expected} records`,
          };
          return;
        }
        nextSeq = last + 1;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  const result = await verifyChain(lines());
  if (!result.ok) {
    const segment = segments.findLast((candidate) => candidate.firstLine <= result.line);
    if (segment === undefined) return result;
    const inObject = result.line - segment.firstLine + 1;
    return { ...result, key: segment.key, reason: `object ${segment.key} line ${inObject}: ${result.reason}` };
  }
  if (structural !== undefined) return { ...structural, records: result.records };
  return { ...result, objects: segments.length };
}

export interface S3AuditSegmentsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** @default 'audit/' */
  readonly prefix?: string;
  /** The relay's chain; see `OutboxRelay.streamId`. @default 'outbox' */
  readonly streamId?: string;
}

/**
 * The relay's segment store on S3 (see `OutboxRelay`): segments of one stream under `<prefix><streamId>/`, named
 * exactly as {@link S3AuditSink} names its objects, so {@link verifyS3AuditStream} checks the relay's chain too.
 * `IfNoneMatch: '*'` makes a second write of the same segment report `exists` instead of overwriting it.
 *
 * @example
 * ```ts
 * const segments = new S3AuditSegments({ client: new S3Client({}), bucket: 'coffer-audit' });
 * await segments.create(1, 3, body); // 'created', or 'exists' when that segment was written before
 * ```
 */
export class S3AuditSegments implements AuditSegmentStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly streamId: string;
  readonly #client: S3Client;

  constructor(options: S3AuditSegmentsOptions) {
    this.#client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'audit/';
    this.streamId = options.streamId ?? 'outbox';
    if (options.bucket === '') throw new ValidationError('audit bucket name is empty');
    if (!STREAM_ID.test(this.streamId)) {
      throw new ValidationError('audit stream id must be 1-128 letters, digits, ".", "_" or "-"');
    }
  }

  async create(first: number, last: number, body: string): Promise<'created' | 'exists'> {
    const key = this.#key(first, last);
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/x-ndjson',
          // Object Lock puts need an integrity header; SHA-256 also lets S3 reject a body damaged on the way.
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
        }),
      );
      return 'created';
    } catch (cause) {
      // 412: the key exists. 409: a concurrent conditional write of the same key is in flight; the caller reads back.
      const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return 'exists';
      throw new S3AuditError(`audit object ${key} could not be written (${errorName(cause)})`, { cause });
    }
  }

  async read(first: number, last: number): Promise<string | undefined> {
    const key = this.#key(first, last);
    try {
      const object = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await object.Body?.transformToString('utf8')) ?? '';
    } catch (cause) {
      if (errorName(cause) === 'NoSuchKey') return undefined;
      throw new S3AuditError(`audit object ${key} could not be read (${errorName(cause)})`, { cause });
    }
  }

  #key(first: number, last: number): string {
    if (!Number.isSafeInteger(first) || first < 1 || last < first || last > MAX_SEQ) {
      throw new ValidationError('segment seqs out of range');
    }
    return segmentKey(this.prefix, this.streamId, first, last);
  }
}
