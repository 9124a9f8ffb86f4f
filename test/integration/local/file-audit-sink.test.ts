import fs from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AUDIT_HEAD_MISMATCH,
  AUDIT_RECOVERED,
  AuditFileError,
  FileAuditSink,
  fileIo,
  headAnchorPath,
  readAuditTail,
  verifyAuditFile,
} from '../../../lambdas/adapters/local/audit-file/file-audit-sink.ts';
import type { AuditRecord, ChainedAuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { AUDIT_CONTINUED, GENESIS_HASH, verifyChain } from '../../../lambdas/core/audit/hash-chain.ts';

let dir: string;
let logPath: string;
const sinks: FileAuditSink[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  logPath = path.join(dir, 'audit', 'audit.log');
});

afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close().catch(() => undefined);
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openSink(at = logPath): Promise<FileAuditSink> {
  const sink = await FileAuditSink.open({ path: at });
  sinks.push(sink);
  return sink;
}

function record(i: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    type: 'request',
    time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
    requestId: `r-${i}`,
    operation: 'secret.read',
    path: `secrets/app/${i}`,
    sourceIp: '127.0.0.1',
    ...extra,
  };
}

async function appendMany(sink: FileAuditSink, from: number, count: number, durable = false): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => sink.append(record(from + i), { durable })));
}

function readLines(file = logPath): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

function parsed(file = logPath): ChainedAuditRecord[] {
  return readLines(file).map((line) => JSON.parse(line) as ChainedAuditRecord);
}

function writeLines(lines: readonly string[]): void {
  fs.writeFileSync(logPath, `${lines.join('\n')}\n`);
}

describe('Class: FileAuditSink', () => {
  it('chains 500 concurrent appends in call order', async () => {
    const sink = await openSink();
    await appendMany(sink, 1, 500);
    await sink.close();
    const records = parsed();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(records.map((r) => r.requestId)).toEqual(Array.from({ length: 500 }, (_, i) => `r-${i + 1}`));
    expect(records[0]!.prev).toBe(GENESIS_HASH);
    await expect(verifyAuditFile(logPath)).resolves.toEqual({
      ok: true,
      records: 500,
      last: { seq: 500, hash: records[499]!.hash },
      anchored: true,
      anchor: { seq: 500, hash: records[499]!.hash },
    });
  });

  it('writes appends of one tick with one write call and syncs only for durable records', async () => {
    const sink = await openSink();
    const probe = await open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: unknown };
    await probe.close();
    const write = vi.spyOn(fileIo, 'writeSync');
    const datasync = vi.spyOn(proto as { datasync: () => Promise<void> }, 'datasync');

    await appendMany(sink, 1, 200);
    await sink.close();
    // One write for the whole batch and one for its head anchor; nothing synced, since no record was durable.
    expect(write).toHaveBeenCalledTimes(2);
    expect(datasync).not.toHaveBeenCalled();

    const durable = await openSink();
    write.mockClear();
    await Promise.all([
      durable.append(record(201), { durable: false }),
      durable.append(record(202), { durable: true }),
    ]);
    await durable.close();
    expect(write).toHaveBeenCalledTimes(2);
    expect(datasync).toHaveBeenCalledTimes(1);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 202 });
  });

  it('creates the log and its anchor with mode 0600 in a 0700 directory', async () => {
    const sink = await openSink();
    await sink.append(record(1), { durable: true });
    expect(fs.statSync(logPath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(headAnchorPath(logPath)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(logPath)).mode & 0o777).toBe(0o700);
  });

  it('keeps the head anchor at the last written record', async () => {
    const sink = await openSink();
    await appendMany(sink, 1, 7);
    await sink.close();
    const anchor = JSON.parse(fs.readFileSync(headAnchorPath(logPath), 'utf8'));
    expect(anchor).toEqual({ seq: 7, hash: parsed()[6]!.hash });
  });

  it('resumes the chain after close and open', async () => {
    const first = await openSink();
    await appendMany(first, 1, 10);
    await first.close();
    const second = await openSink();
    await appendMany(second, 11, 10);
    await second.close();
    expect(parsed().map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 20 });
  });

  it('resumes the chain when reopened on the same file', async () => {
    const sink = await openSink();
    await appendMany(sink, 1, 5);
    await sink.reopen();
    await appendMany(sink, 6, 5);
    await sink.close();
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 10 });
  });

  it('continues the chain in a fresh file after rotation', async () => {
    const sink = await openSink();
    await appendMany(sink, 1, 5);
    const rotated = `${logPath}.1`;
    fs.renameSync(logPath, rotated);
    await sink.reopen();
    await appendMany(sink, 6, 3);
    await sink.close();

    const old = parsed(rotated);
    const fresh = parsed();
    expect(fresh[0]).toMatchObject({ type: 'system', operation: AUDIT_CONTINUED, seq: 6, prev: old[4]!.hash });
    expect(fresh.map((r) => r.seq)).toEqual([6, 7, 8, 9]);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 4, last: { seq: 9 } });
    await expect(verifyChain(readLines(rotated))).resolves.toMatchObject({ ok: true, records: 5 });
  });

  it('continues the anchored chain when the log was rotated away while stopped', async () => {
    const first = await openSink();
    await appendMany(first, 1, 3);
    await first.close();
    fs.renameSync(logPath, `${logPath}.1`);
    const second = await openSink();
    await second.append(record(4), { durable: false });
    await second.close();
    expect(parsed().map((r) => [r.seq, r.operation])).toEqual([
      [4, AUDIT_CONTINUED],
      [5, 'secret.read'],
    ]);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 2 });
  });

  it('cuts off a torn last line, notes it in the chain and verifies', async () => {
    const first = await openSink();
    await appendMany(first, 1, 5);
    await first.close();
    const torn = '{"type":"request","time":"2024-01-01T00:00:06.000Z","requestId":"r-6","oper';
    fs.appendFileSync(logPath, torn);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: false, line: 6 });

    const second = await openSink();
    await second.append(record(7), { durable: false });
    await second.close();
    const records = parsed();
    expect(records).toHaveLength(7);
    expect(records[5]).toMatchObject({
      type: 'system',
      operation: AUDIT_RECOVERED,
      seq: 6,
      details: { discardedBytes: Buffer.byteLength(torn) },
    });
    expect(fs.readFileSync(logPath, 'utf8')).not.toContain('"oper{');
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 7 });
  });

  it('starts a fresh chain when the only line is torn', async () => {
    fs.mkdirSync(path.dirname(logPath), { recursive: true });
    fs.writeFileSync(logPath, '{"type":"requ');
    const sink = await openSink();
    await sink.close();
    expect(parsed()).toEqual([expect.objectContaining({ seq: 1, operation: AUDIT_RECOVERED, prev: GENESIS_HASH })]);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 1 });
  });

  it('notes on open that the log is shorter than its head anchor', async () => {
    const first = await openSink();
    await appendMany(first, 1, 6);
    await first.close();
    writeLines(readLines().slice(0, 4));
    const second = await openSink();
    await second.close();
    const note = parsed()[4]!;
    expect(note).toMatchObject({
      seq: 5,
      operation: AUDIT_HEAD_MISMATCH,
      details: { anchor: { seq: 6 }, found: { seq: 4 } },
    });
  });

  it('refuses to open a log whose last line is not a chained record', async () => {
    fs.mkdirSync(path.dirname(logPath), { recursive: true });
    fs.writeFileSync(logPath, 'not json\n');
    await expect(FileAuditSink.open({ path: logPath })).rejects.toBeInstanceOf(AuditFileError);
  });

  it('fails a record that cannot be serialised alone, not its batch', async () => {
    const sink = await openSink();
    const results = await Promise.allSettled([
      sink.append(record(1), { durable: false }),
      sink.append(record(2, { request: { big: 1n } }), { durable: false }),
      sink.append(record(3), { durable: false }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await sink.close();
    expect(parsed().map((r) => [r.seq, r.requestId])).toEqual([
      [1, 'r-1'],
      [2, 'r-3'],
    ]);
  });

  it('refuses appends after close', async () => {
    const sink = await openSink();
    await sink.close();
    await expect(sink.append(record(1), { durable: false })).rejects.toBeInstanceOf(AuditFileError);
    await expect(sink.reopen()).rejects.toBeInstanceOf(AuditFileError);
  });

  describe('fail-closed on a failing device', () => {
    it('rejects appends to /dev/full with ENOSPC and stays broken', async () => {
      fs.mkdirSync(path.dirname(logPath), { recursive: true });
      fs.symlinkSync('/dev/full', logPath);
      const sink = await openSink();
      const batch = await Promise.allSettled([
        sink.append(record(1), { durable: false }),
        sink.append(record(2), { durable: true }),
      ]);
      expect(batch).toEqual([
        { status: 'rejected', reason: expect.objectContaining({ code: 'ENOSPC' }) },
        { status: 'rejected', reason: expect.objectContaining({ code: 'ENOSPC' }) },
      ]);
      const later = sink.append(record(3), { durable: false });
      await expect(later).rejects.toBeInstanceOf(AuditFileError);
      await expect(later).rejects.toThrow(/ENOSPC.*reopened/);
    });

    it('reopens by itself on a later append once the disk takes writes again', async () => {
      const sink = await FileAuditSink.open({ path: logPath, reopenRetryMs: 0 });
      sinks.push(sink);
      await appendMany(sink, 1, 2);
      fs.renameSync(logPath, `${logPath}.1`);
      fs.symlinkSync('/dev/full', logPath);
      await expect(sink.reopen()).rejects.toMatchObject({ code: 'ENOSPC' });
      // Still full: the append's own reopen attempt fails, and the append is refused.
      await expect(sink.append(record(3), { durable: false })).rejects.toBeInstanceOf(AuditFileError);

      fs.unlinkSync(logPath);
      // No operator reopen: the next append reopens the log and the chain continues.
      await sink.append(record(4), { durable: true });
      await sink.close();
      expect(parsed().map((r) => [r.seq, r.operation])).toEqual([
        [3, AUDIT_CONTINUED],
        [4, 'secret.read'],
      ]);
      await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 2 });
    });

    it('fails appends once reopen finds the path pointing at /dev/full, and recovers when it is fixed', async () => {
      const sink = await openSink();
      await appendMany(sink, 1, 3);
      fs.renameSync(logPath, `${logPath}.1`);
      fs.symlinkSync('/dev/full', logPath);
      await expect(sink.reopen()).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(sink.append(record(4), { durable: false })).rejects.toBeInstanceOf(AuditFileError);

      fs.unlinkSync(logPath);
      await sink.reopen();
      await sink.append(record(5), { durable: false });
      await sink.close();
      expect(parsed().map((r) => [r.seq, r.operation])).toEqual([
        [4, AUDIT_CONTINUED],
        [5, 'secret.read'],
      ]);
      await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 2 });
    });
  });
});

describe('Function: verifyAuditFile', () => {
  let lines: string[];

  beforeEach(async () => {
    const sink = await openSink();
    await appendMany(sink, 1, 50);
    await sink.close();
    lines = readLines();
  });

  it('names the line with a changed byte', async () => {
    const bytes = fs.readFileSync(logPath);
    const offset = lines.slice(0, 29).reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) + 40;
    bytes[offset]! ^= 0x02;
    fs.writeFileSync(logPath, bytes);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: false, line: 30, records: 29 });
  });

  it('names the position of a deleted line', async () => {
    writeLines(lines.filter((_, i) => i !== 11));
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: false, line: 12, seq: 13 });
  });

  it('names the first of two swapped lines', async () => {
    [lines[20], lines[21]] = [lines[21]!, lines[20]!];
    writeLines(lines);
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: false, line: 21, seq: 22 });
  });

  it('detects a truncated tail through the head anchor', async () => {
    writeLines(lines.slice(0, 45));
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({
      ok: false,
      line: 46,
      reason: expect.stringMatching(/truncated/),
    });
  });

  it('reports an unreadable head anchor', async () => {
    fs.writeFileSync(headAnchorPath(logPath), 'garbage');
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: false, line: 51, reason: /anchor/ });
  });

  it('verifies without an anchor when there is none', async () => {
    fs.unlinkSync(headAnchorPath(logPath));
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: 50 });
  });
});

describe('Function: readAuditTail', () => {
  it('returns the last complete lines, oldest first', async () => {
    const sink = await openSink();
    await appendMany(sink, 1, 20);
    await sink.close();
    const lines = readLines();
    await expect(readAuditTail(logPath, 3)).resolves.toEqual(lines.slice(17));
    await expect(readAuditTail(logPath, 100)).resolves.toEqual(lines);
    await expect(readAuditTail(logPath, 0)).resolves.toEqual([]);
    fs.appendFileSync(logPath, '{"torn');
    await expect(readAuditTail(logPath, 1)).resolves.toEqual(lines.slice(19));
  });

  it('reads lines longer than its read chunk', async () => {
    const sink = await openSink();
    const big = 'x'.repeat(150_000);
    await sink.append(record(1, { request: { note: big } }), { durable: false });
    await sink.append(record(2, { request: { note: big } }), { durable: false });
    await sink.append(record(3), { durable: false });
    await sink.close();
    const tail = await readAuditTail(logPath, 2);
    expect(tail.map((line) => (JSON.parse(line) as ChainedAuditRecord).seq)).toEqual([2, 3]);
  });
});
