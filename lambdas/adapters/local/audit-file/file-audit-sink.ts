import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants, writeSync } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { AuditRecord } from '../../../core/audit/audit-types.ts';
import {
  AUDIT_CONTINUED,
  type ChainHead,
  chainRecord,
  serialise,
  type VerifyResult,
  verifyChain,
} from '../../../core/audit/hash-chain.ts';
import { GroupCommit } from '../../../core/group-commit.ts';
import { Mutex } from '../../../core/mutex.ts';
import type { AuditSink } from '../../../core/ports/audit-sink.ts';

/**
 * The synchronous writes the sink makes, behind an object so tests can count system calls (group commit is a
 * behaviour, and it must be observable without timing).
 * @internal
 */
export const fileIo = { writeSync };

/** Operation of the record noting that a torn last line (a crash mid-write) was cut off on open. */
export const AUDIT_RECOVERED = 'audit.recovered';
/** Operation of the record noting that the head anchor did not match the log's tail on open. */
export const AUDIT_HEAD_MISMATCH = 'audit.head-mismatch';

/** The head anchor has a fixed size, so updating it is one positional write and never needs a truncate. */
const HEAD_BYTES = 128;
/** First read size when scanning the log backwards; it doubles, so a long torn tail costs O(size). */
const TAIL_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

export interface FileAuditSinkOptions {
  /** The log file. Its head anchor lives beside it at `<path>.head`. */
  readonly path: string;
  /** Mode of a newly created log or anchor file. @default 0o600 */
  readonly mode?: number;
  /**
   * After a failed write (disk full, read-only file system), how long appends are refused before one of them tries
   * {@link FileAuditSink.reopen} itself, so the node recovers by itself once the disk does. @default 1000
   */
  readonly reopenRetryMs?: number;
}

/** The audit file cannot be written or resumed. Its message never contains record contents. */
export class AuditFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditFileError';
  }
}

interface QueuedRecord {
  readonly record: AuditRecord;
  readonly durable: boolean;
}

/** `<path>.head`: where the sink anchors the chain's head so that a truncated tail is detectable. */
export function headAnchorPath(logPath: string): string {
  return `${logPath}.head`;
}

/**
 * The local audit device: one hash-chained JSON line per record, appended to a file.
 *
 * Appends made while a write is in flight (or in the same tick) are written together with one `write` call — group
 * commit — and followed by one `fdatasync` only if a record in the batch is durable. Chain order is call order.
 * When a write fails the chain state on disk is unknown, so the sink refuses every later append until
 * {@link FileAuditSink.reopen} succeeds: fail-closed. Reopening resumes from what the file really holds (a torn tail
 * is cut and noted), so a later append tries it too, at most once per `reopenRetryMs`: a disk that had filled up or
 * gone read-only needs no operator once it takes writes again.
 *
 * @example
 * ```ts
 * const sink = await FileAuditSink.open({ path: '/var/lib/coffer/audit/audit.log' });
 * await sink.append(record, { durable: true });
 * process.on('SIGHUP', () => void sink.reopen()); // after logrotate moved the file
 * ```
 */
export class FileAuditSink implements AuditSink {
  readonly path: string;
  readonly #headPath: string;
  readonly #mode: number;
  readonly #reopenRetryMs: number;
  /** While broken: the earliest time an append may try to reopen. */
  #retryAt = 0;
  #retrying: Promise<void> | undefined;
  #log: FileHandle | undefined;
  #head: FileHandle | undefined;
  /** The last record known to be written: the chain continues from here. */
  #last: ChainHead | undefined;
  /** Serialises flushes, reopen and close: only one of them touches the files at a time. */
  readonly #io = new Mutex();
  readonly #commits = new GroupCommit<QueuedRecord>({
    // Unbounded: every record appended by requests handled in one event-loop turn shares one write and one fsync.
    maxBatch: Number.POSITIVE_INFINITY,
    exclusive: (section) => this.#io.run(section),
    commit: (batch) => this.#write(batch),
  });
  #broken: AuditFileError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(logPath: string, mode: number, reopenRetryMs: number) {
    this.path = logPath;
    this.#headPath = headAnchorPath(logPath);
    this.#mode = mode;
    this.#reopenRetryMs = reopenRetryMs;
  }

  /**
   * Opens (or creates, mode 0600 in a 0700 directory) the log and resumes its chain from the last line. A torn last
   * line is cut off and noted in the chain; so is a head anchor that is ahead of the log (a truncated tail). An
   * empty log with an anchor beside it continues the anchored chain (the previous file was rotated away).
   *
   * @throws AuditFileError when the last complete line is not a chained record, so the chain cannot be resumed
   */
  static async open(options: FileAuditSinkOptions): Promise<FileAuditSink> {
    const sink = new FileAuditSink(options.path, options.mode ?? 0o600, options.reopenRetryMs ?? 1000);
    await sink.#attach(undefined);
    return sink;
  }

  append(record: AuditRecord, options: { durable: boolean }): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(new AuditFileError('audit log is closed'));
    if (this.#broken !== undefined) {
      return this.#reopenBroken().then(() => this.#commits.add({ record, durable: options.durable }));
    }
    return this.#commits.add({ record, durable: options.durable });
  }

  /** One reopen at a time, once per `reopenRetryMs`; rejects with why the sink is broken while it stays so. */
  #reopenBroken(): Promise<void> {
    const broken = this.#broken!;
    if (Date.now() < this.#retryAt) return Promise.reject(broken);
    this.#retrying ??= this.reopen().finally(() => {
      this.#retrying = undefined;
    });
    return this.#retrying.catch(() => {
      throw this.#broken ?? broken;
    });
  }

  /**
   * Closes and reopens the file at the same path (log rotation, SIGHUP). A fresh, empty file continues the chain
   * with an `audit.continued` record; an existing file resumes from its own last line. A broken sink is usable
   * again once this succeeds.
   */
  reopen(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(new AuditFileError('audit log is closed'));
    return this.#io.run(async () => {
      await this.#detach();
      try {
        await this.#attach(this.#last);
        this.#broken = undefined;
      } catch (cause) {
        this.#broken = new AuditFileError('audit log could not be reopened; appends are refused until it is', {
          cause,
        });
        this.#retryAt = Date.now() + this.#reopenRetryMs;
        throw cause;
      }
    });
  }

  /** Writes what is queued, syncs the log and the anchor to disk and closes them. Later appends are refused. */
  close(): Promise<void> {
    this.#closing ??= this.#io.run(async () => {
      // Appends of this event-loop turn are queued for a flush that would otherwise run after the files are closed.
      await this.#commits.drain();
      let failure: unknown;
      if (this.#broken === undefined) {
        try {
          await this.#log?.sync();
          await this.#head?.sync();
        } catch (err) {
          failure = err;
        }
      }
      const closed = await this.#detach();
      failure ??= closed;
      if (failure !== undefined) throw new AuditFileError('closing the audit log failed', { cause: failure });
    });
    return this.#closing;
  }

  /** Chains and writes one batch; per record, `undefined` when written or why it was not. */
  async #write(batch: readonly QueuedRecord[]): Promise<unknown[]> {
    const log = this.#log;
    if (this.#broken !== undefined || log === undefined)
      throw this.#broken ?? new AuditFileError('audit log is closed');
    let last = this.#last;
    const lines: string[] = [];
    const outcomes: unknown[] = [];
    let durable = false;
    for (const queued of batch) {
      try {
        const chained = chainRecord(last, queued.record);
        lines.push(serialise(chained));
        last = { seq: chained.seq, hash: chained.hash };
        outcomes.push(undefined);
        durable ||= queued.durable;
      } catch (err) {
        // A record that cannot be serialised (a bug in its producer) fails alone, not the whole batch.
        outcomes.push(err);
      }
    }
    if (lines.length === 0) return outcomes;
    try {
      // A write to the page cache takes microseconds; doing it synchronously saves a thread-pool round trip on
      // every request. Only the fdatasync, which waits for the disk, goes to the thread pool.
      writeAllSync(log.fd, Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
      if (durable) await log.datasync();
    } catch (err) {
      this.#markBroken(err);
      return outcomes.map((outcome) => outcome ?? err);
    }
    this.#last = last;
    // The anchor is advisory and may lag the log; a failure to write it breaks the sink for later appends only.
    try {
      this.#writeHeadSync();
    } catch (err) {
      this.#markBroken(err);
    }
    return outcomes;
  }

  #markBroken(cause: unknown): void {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const why = typeof code === 'string' ? ` (${code})` : '';
    this.#broken = new AuditFileError(
      `audit log write failed${why}; appends are refused until the log is reopened, since its chain state is unknown`,
      { cause },
    );
    this.#retryAt = Date.now() + this.#reopenRetryMs;
  }

  /** Opens the files, resumes the chain, writes any notes about what was found. `previous`: chain before reopen. */
  async #attach(previous: ChainHead | undefined): Promise<void> {
    await mkdir(path.dirname(this.path), { recursive: true, mode: 0o700 });
    this.#log = await open(this.path, 'a+', this.#mode);
    try {
      this.#head = await open(this.#headPath, fsConstants.O_RDWR | fsConstants.O_CREAT, this.#mode);
      const anchor = await readAnchor(this.#head);
      // Positional writes of a fixed-size anchor never shorten the file, so drop anything beyond it once.
      if ((await this.#head.stat()).size > HEAD_BYTES) await this.#head.truncate(HEAD_BYTES);
      const { last, tornBytes, tornSha256 } = await resumeTail(this.#log, this.path);
      const notes: AuditRecord[] = [];
      this.#last = last;
      if (last === undefined) {
        const base = previous ?? (anchor === 'unreadable' ? undefined : anchor);
        if (base !== undefined) {
          this.#last = base;
          notes.push(systemRecord(AUDIT_CONTINUED, { previousSeq: base.seq, previousHash: base.hash }));
        }
      } else if (
        anchor === 'unreadable' ||
        (anchor !== undefined && (anchor.seq > last.seq || (anchor.seq === last.seq && anchor.hash !== last.hash)))
      ) {
        notes.push(systemRecord(AUDIT_HEAD_MISMATCH, { anchor, found: last }));
      }
      if (tornBytes > 0) {
        notes.push(systemRecord(AUDIT_RECOVERED, { discardedBytes: tornBytes, discardedSha256: tornSha256 }));
      }
      if (notes.length > 0) await this.#writeNotes(notes);
      if (this.#last !== undefined) this.#writeHeadSync();
    } catch (err) {
      await this.#detach();
      throw err;
    }
  }

  async #writeNotes(notes: readonly AuditRecord[]): Promise<void> {
    let last = this.#last;
    const lines = notes.map((note) => {
      const chained = chainRecord(last, note);
      last = { seq: chained.seq, hash: chained.hash };
      return serialise(chained);
    });
    const log = this.#log!;
    await writeAll(log, Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
    await log.datasync();
    this.#last = last;
  }

  #writeHeadSync(): void {
    const head = this.#head;
    if (head === undefined || this.#last === undefined) return;
    const bytesWritten = fileIo.writeSync(head.fd, this.#headBytes(), 0, HEAD_BYTES, 0);
    if (bytesWritten !== HEAD_BYTES) throw new AuditFileError('short write to the audit head anchor');
  }

  #headBytes(): Buffer {
    const last = this.#last!;
    return Buffer.from(`${JSON.stringify({ seq: last.seq, hash: last.hash }).padEnd(HEAD_BYTES - 1)}\n`, 'utf8');
  }

  /** Closes both files; returns (does not throw) the first close error. */
  async #detach(): Promise<unknown> {
    const handles = [this.#log, this.#head];
    this.#log = undefined;
    this.#head = undefined;
    let failure: unknown;
    for (const handle of handles) {
      try {
        await handle?.close();
      } catch (err) {
        failure ??= err;
      }
    }
    return failure;
  }
}

function systemRecord(operation: string, details: Record<string, unknown>): AuditRecord {
  return {
    type: 'system',
    time: new Date().toISOString(),
    requestId: randomUUID(),
    operation,
    path: '',
    sourceIp: '',
    details,
  };
}

function writeAllSync(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) {
    const bytesWritten = fileIo.writeSync(fd, buffer, offset, buffer.length - offset);
    if (bytesWritten <= 0) throw new AuditFileError('audit log write made no progress');
    offset += bytesWritten;
  }
}

async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset);
    if (bytesWritten <= 0) throw new AuditFileError('audit log write made no progress');
    offset += bytesWritten;
  }
}

async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesRead } = await handle.read(buffer, offset, buffer.length - offset, position + offset);
    if (bytesRead === 0) throw new AuditFileError('audit log shrank while it was being read');
    offset += bytesRead;
  }
}

interface TailScan {
  /** Up to the wanted number of last complete (newline-terminated) lines, in file order. */
  readonly lines: string[];
  /** Offset just past the last newline: anything after it is a torn line. */
  readonly completeEnd: number;
}

/** Reads the end of a file backwards, doubling the read size, until it holds `wanted` complete lines. */
async function scanTail(handle: FileHandle, size: number, wanted: number): Promise<TailScan> {
  let start = size;
  let buffer = Buffer.alloc(0);
  let chunk = TAIL_CHUNK;
  while (start > 0) {
    const length = Math.min(chunk, start);
    start -= length;
    chunk *= 2;
    const part = Buffer.allocUnsafe(length);
    await readFully(handle, part, start);
    buffer = Buffer.concat([part, buffer]);
    const lastNewline = buffer.lastIndexOf(NEWLINE);
    if (lastNewline === -1) continue;
    // Splitting at newline bytes is safe for UTF-8: 0x0a never occurs inside a multi-byte character.
    const segments = buffer.subarray(0, lastNewline).toString('utf8').split('\n');
    if (start > 0) segments.shift(); // it may begin mid-line
    if (segments.length >= wanted || start === 0) {
      return { lines: segments.slice(Math.max(0, segments.length - wanted)), completeEnd: start + lastNewline + 1 };
    }
  }
  return { lines: [], completeEnd: 0 };
}

/** Cuts a torn last line off the log and returns where its chain stands. */
async function resumeTail(
  log: FileHandle,
  logPath: string,
): Promise<{ last: ChainHead | undefined; tornBytes: number; tornSha256?: string }> {
  const stat = await log.stat();
  // A device such as /dev/full reads as endless zeros: only regular files have a tail to resume from.
  if (!stat.isFile() || stat.size === 0) return { last: undefined, tornBytes: 0 };
  const { lines, completeEnd } = await scanTail(log, stat.size, 1);
  const tornBytes = stat.size - completeEnd;
  let tornSha256: string | undefined;
  if (tornBytes > 0) {
    const torn = Buffer.allocUnsafe(tornBytes);
    await readFully(log, torn, completeEnd);
    // Kept as a digest only: the fragment may hold part of a record, which is not ours to copy into a new one.
    tornSha256 = createHash('sha256').update(torn).digest('hex');
    await log.truncate(completeEnd);
    await log.datasync();
  }
  const lastLine = lines.at(-1);
  if (lastLine === undefined) return { last: undefined, tornBytes, tornSha256 };
  const last = parseChainHead(lastLine);
  if (last === undefined) {
    throw new AuditFileError(
      `cannot resume the audit chain: the last line of ${logPath} is not a chained record; verify the file and move it aside`,
    );
  }
  return { last, tornBytes, tornSha256 };
}

function parseChainHead(text: string): ChainHead | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, hash } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1 || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
    return undefined;
  }
  return { seq: seq as number, hash };
}

async function readAnchor(head: FileHandle): Promise<ChainHead | 'unreadable' | undefined> {
  const text = (await head.readFile('utf8')).trim();
  if (text === '') return undefined;
  return parseChainHead(text) ?? 'unreadable';
}

/**
 * An anchor as an operator records it: `<seq>:<hash>` of the chain's last record. Kept elsewhere (a ticket, another
 * host), it proves later that a copy of the log still reaches that record: the file alone cannot prove its end.
 */
export function formatAnchor(head: ChainHead): string {
  return `${head.seq}:${head.hash}`;
}

/**
 * Reads an anchor as {@link formatAnchor} writes it, or as JSON `{"seq":…,"hash":…}` (a head anchor file, or the
 * `last` of a verify result); `undefined` when it is neither.
 */
export function parseAnchor(text: string): ChainHead | undefined {
  const trimmed = text.trim();
  const match = /^(\d{1,16}):([0-9a-fA-F]{64})$/.exec(trimmed);
  if (match === null) return parseChainHead(trimmed);
  const seq = Number(match[1]);
  return Number.isSafeInteger(seq) && seq >= 1 ? { seq, hash: match[2]!.toLowerCase() } : undefined;
}

export interface VerifyAuditFileOptions {
  /** An anchor recorded elsewhere; checked instead of any anchor file. */
  readonly anchor?: ChainHead;
  /**
   * The head anchor file to check the log against when `anchor` is not given (a missing file means no anchor).
   * @default `<logPath>.head`, the anchor the sink keeps beside the log
   */
  readonly anchorPath?: string;
}

/**
 * The outcome of {@link verifyAuditFile}: the chain's verdict, and whether the file's end was checked against an
 * anchor. Without one, records cut from the end leave a shorter chain that is still intact: `ok` then only means
 * "intact up to `last`", and `anchored: false` says a truncation cannot be ruled out.
 */
export type AuditFileVerified = VerifyResult & {
  /**
   * The file reaches the anchor and holds it unaltered (or is empty, as its empty anchor file says); false when
   * there was none, or it precedes the file.
   */
  readonly anchored: boolean;
  /** The anchor checked against, when there was one. Records after it are verified but not anchored. */
  readonly anchor?: ChainHead;
};

/**
 * Verifies an audit file line by line (streamed, so any size is fine) against an anchor — `options.anchor`, or the
 * head anchor file (by default `<path>.head`) when there is one — and names the first bad line. A file that stops
 * short of its anchor fails, naming how many records are missing.
 *
 * @example
 * ```ts
 * const result = await verifyAuditFile('/backup/audit.log', { anchor: parseAnchor('120:3fa9…') });
 * if (!result.ok) console.error(`line ${result.line}: ${result.reason}`);
 * else if (!result.anchored) console.error('intact so far, but its end is not anchored');
 * ```
 */
export async function verifyAuditFile(
  logPath: string,
  options: VerifyAuditFileOptions = {},
): Promise<AuditFileVerified> {
  const anchor = options.anchor ?? (await readAnchorFile(options.anchorPath ?? headAnchorPath(logPath)));
  const input = (await open(logPath, 'r')).createReadStream();
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    if (anchor === 'unreadable') {
      const result = await verifyChain(lines);
      if (!result.ok) return { ...result, anchored: false };
      return {
        ok: false,
        records: result.records,
        line: result.records + 1,
        reason: 'head anchor is unreadable, so a truncated tail cannot be ruled out',
        anchored: false,
      };
    }
    if (anchor === undefined || anchor === 'empty') {
      const result = await verifyChain(lines);
      // The sink creates its anchor file empty and fills it with the first record: an empty anchor vouches for an
      // empty log, and for nothing in a log that has records.
      return { ...result, anchored: anchor === 'empty' && result.ok && result.records === 0 };
    }
    const result = await verifyChain(lines, { head: anchor });
    if (!result.ok || result.last === undefined) return { ...result, anchored: true, anchor };
    // The chain is contiguous, so this is the file's first seq: an anchor before it (an older, rotated-away file)
    // was never compared with a record, and proves nothing about this file's end.
    const first = result.last.seq - result.records + 1;
    return { ...result, anchored: anchor.seq >= first, anchor };
  } finally {
    lines.close();
    input.destroy();
  }
}

/** `undefined`: there is no anchor file; `'empty'`: there is one, written before the log had a record. */
async function readAnchorFile(anchorPath: string): Promise<ChainHead | 'unreadable' | 'empty' | undefined> {
  let head: FileHandle;
  try {
    head = await open(anchorPath, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return (await readAnchor(head)) ?? 'empty';
  } finally {
    await head.close();
  }
}

/** The last `count` complete lines of an audit file, oldest first; reads only the end of the file. */
export async function readAuditTail(logPath: string, count: number): Promise<string[]> {
  const wanted = Math.floor(count);
  if (!(wanted > 0)) return [];
  const handle = await open(logPath, 'r');
  try {
    const { size } = await handle.stat();
    return (await scanTail(handle, size, wanted)).lines;
  } finally {
    await handle.close();
  }
}
