import { createHash } from 'node:crypto';
import type { AuditRecord, ChainedAuditRecord } from './audit-types.ts';

/**
 * The audit hash chain: every record carries the hash of its predecessor, so changing, deleting, reordering or
 * inserting a line breaks the chain at (or right after) the tampered line.
 *
 * The chain is not keyed: it makes tampering evident, it does not stop someone with write access from rewriting the
 * whole tail consistently. The head anchor kept beside the log (see the file sink) catches a truncated tail.
 */

/** `prev` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Operation of the `system` record that opens a file continuing a chain from an earlier file (after log rotation).
 * It is the only record allowed to start a file at a seq other than 1 or with a `prev` other than the genesis hash.
 */
export const AUDIT_CONTINUED = 'audit.continued';

/** Where a chain stands: the seq and hash of its last record. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export type VerifyResult =
  | { readonly ok: true; readonly records: number; readonly last?: ChainHead }
  | {
      readonly ok: false;
      /** Records that verified before the first bad line. */
      readonly records: number;
      /** 1-based number of the first bad line (one past the end when the tail is missing). */
      readonly line: number;
      readonly seq?: number;
      readonly reason: string;
    };

export interface VerifyOptions {
  /**
   * The head anchor written beside the log. The record with this seq must carry this hash, and the log must reach
   * it; a log that stops short of it has lost its tail.
   * @default none: a truncated tail goes unnoticed
   */
  readonly head?: ChainHead;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Characters that some line-splitting readers (editors, `str.splitlines()`, log shippers) take for a line break, or
 * that a terminal or viewer acts on: the C1 controls and DEL (U+0085 NEL among them), the Unicode line and paragraph
 * separators, and the bidirectional embedding, override and isolate controls (which can make a line display as
 * something it does not say). `JSON.stringify` writes them raw; the log writes them as `\uXXXX` escapes, which
 * `JSON.parse` reads back to the same string. They only ever occur inside JSON strings (JSON's own whitespace is
 * ASCII), so escaping them in the serialised text is exact. C0 controls are already escaped by `JSON.stringify`.
 */
const UNSAFE_IN_LINE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_IN_LINE_ALL = new RegExp(UNSAFE_IN_LINE.source, 'g');

/** `json` with every {@link UNSAFE_IN_LINE} character written as a `\uXXXX` escape. */
export function escapeForLine(json: string): string {
  // The common case has none: one scan, no copy.
  if (!UNSAFE_IN_LINE.test(json)) return json;
  return json.replace(UNSAFE_IN_LINE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The hash covers the record's own serialised bytes (insertion-ordered `JSON.stringify` with the characters above
 * escaped, exactly as written to the log, minus the trailing `hash` member), so a verifier in any language needs no
 * canonicalisation: strip `,"hash":"…"` from the line, prepend the previous hash and a newline, sha256. It is also
 * several times cheaper than sorting keys, and it runs twice per request.
 *
 * Lines written before those characters were escaped hold them raw and were hashed that way: `legacy` verifies them
 * as written (the recipe above holds for both forms).
 */
function recordHash(prevHash: string, body: Readonly<Record<string, unknown>>, legacy = false): string {
  const json = JSON.stringify(body);
  return hashJson(prevHash, legacy ? json : escapeForLine(json));
}

function hashJson(prevHash: string, bodyJson: string): string {
  return createHash('sha256').update(`${prevHash}\n${bodyJson}`, 'utf8').digest('hex');
}

/** Lines already produced by `chainRecord`, so the hot path serialises each record once, not twice. */
const written = new WeakMap<ChainedAuditRecord, string>();

/**
 * Links `record` after `prev` (or starts a chain when `prev` is undefined): seq is `prev.seq + 1` (or 1), `prev` is
 * the predecessor's hash (or the genesis hash), and `hash` is sha256 over that hash, a newline and the JSON of the
 * record with `seq` and `prev` but without `hash` (the line as written, minus its last member).
 *
 * @example
 * ```ts
 * const first = chainRecord(undefined, record); // seq 1, prev GENESIS_HASH
 * const second = chainRecord(first, next);      // seq 2, prev first.hash
 * ```
 */
export function chainRecord(prev: ChainHead | undefined, record: AuditRecord): ChainedAuditRecord {
  // A record that was chained before (e.g. copied from another log) must not carry its old links into the body.
  const { seq: _seq, prev: _prev, hash: _hash, ...fields } = record as Partial<ChainedAuditRecord> & AuditRecord;
  const body = { ...fields, seq: prev === undefined ? 1 : prev.seq + 1, prev: prev?.hash ?? GENESIS_HASH };
  const bodyJson = escapeForLine(JSON.stringify(body));
  const hash = hashJson(body.prev, bodyJson);
  const chained = { ...body, hash };
  // `hash` is the last member, so the line is the body with it appended: identical to serialising `chained` afresh.
  written.set(chained, `${bodyJson.slice(0, -1)},"hash":"${hash}"}`);
  return chained;
}

/**
 * One log line for a chained record: JSON with no line terminator of any kind inside (JSON escapes newlines in
 * strings; {@link escapeForLine} the rest), which `JSON.parse` reads back to the same record.
 */
export function serialise(chained: ChainedAuditRecord): string {
  return written.get(chained) ?? escapeForLine(JSON.stringify(chained));
}

type Failure = Extract<VerifyResult, { ok: false }>;

/**
 * Checks a log line by line and names the FIRST bad line: one that is not JSON, not a chained record, out of
 * sequence, not linked to its predecessor, whose hash does not match its content, or whose bytes differ from the
 * form the log writes. A chain starts at seq 1 with the genesis hash, unless its first record is an
 * {@link AUDIT_CONTINUED} record (a file continuing a rotated one). Empty lines are only allowed at the very end.
 *
 * A line inserted with a correctly computed hash is caught at the next genuine line, whose seq and prev no longer
 * fit; without `options.head`, deleting the last lines cannot be seen.
 *
 * @example
 * ```ts
 * const result = await verifyChain(text.split('\n'), { head });
 * if (!result.ok) console.error(`line ${result.line}: ${result.reason}`);
 * ```
 */
export async function verifyChain(
  lines: AsyncIterable<string> | Iterable<string>,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const { head } = options;
  let last: ChainHead | undefined;
  let records = 0;
  let lineNo = 0;
  let firstEmpty: number | undefined;
  const fail = (line: number, reason: string, seq?: number): Failure =>
    seq === undefined ? { ok: false, records, line, reason } : { ok: false, records, line, seq, reason };

  for await (const line of lines) {
    lineNo++;
    if (line === '') {
      firstEmpty ??= lineNo;
      continue;
    }
    if (firstEmpty !== undefined) return fail(firstEmpty, 'empty line inside the log');
    const checked = checkLine(line, last, head);
    if ('reason' in checked) return fail(lineNo, checked.reason, checked.seq);
    last = { seq: checked.record.seq, hash: checked.record.hash };
    records++;
  }

  if (head !== undefined && (last === undefined || last.seq < head.seq)) {
    const end = last?.seq ?? 0;
    const missing = head.seq - end;
    return fail(
      records + 1,
      `tail truncated: ${missing} record${missing === 1 ? '' : 's'} missing (the log ends at seq ${end} but its head anchor records seq ${head.seq})`,
      end + 1,
    );
  }
  return last === undefined ? { ok: true, records } : { ok: true, records, last };
}

function checkLine(
  line: string,
  last: ChainHead | undefined,
  head: ChainHead | undefined,
): { record: ChainedAuditRecord } | { reason: string; seq?: number } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { reason: 'line is not valid JSON' };
  }
  if (!isChained(value))
    return { reason: 'line is not a chained audit record (seq, prev or hash missing or malformed)' };
  const { seq } = value;
  if (last === undefined) {
    const continued = value.type === 'system' && value.operation === AUDIT_CONTINUED;
    if (!continued && (seq !== 1 || value.prev !== GENESIS_HASH)) {
      return { seq, reason: `chain starts at seq ${seq} instead of seq 1 after the genesis hash` };
    }
  } else {
    if (seq !== last.seq + 1) return { seq, reason: `out of sequence: expected seq ${last.seq + 1}, found ${seq}` };
    if (value.prev !== last.hash) return { seq, reason: 'prev does not match the hash of the previous record' };
  }
  const { hash, ...body } = value;
  const raw = JSON.stringify(value);
  const escaped = escapeForLine(raw);
  // Written before the escaping existed: raw characters, hashed raw. A given hash still fits exactly one line.
  const legacy = line !== escaped && line === raw;
  if (recordHash(value.prev, body, legacy) !== hash) return { seq, reason: 'hash mismatch: the record was altered' };
  // Catches byte changes that parse to the same value (e.g. the case of a \u escape) and so keep the hash intact.
  if (line !== escaped && !legacy) return { seq, reason: 'line differs from how the log writes it: altered' };
  if (head !== undefined && seq === head.seq && hash !== head.hash) {
    return { seq, reason: 'record does not match the head anchor' };
  }
  return { record: value };
}

function isChained(value: unknown): value is ChainedAuditRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { seq, prev, hash } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(seq) &&
    (seq as number) >= 1 &&
    typeof prev === 'string' &&
    HEX64.test(prev) &&
    typeof hash === 'string' &&
    HEX64.test(hash)
  );
}
