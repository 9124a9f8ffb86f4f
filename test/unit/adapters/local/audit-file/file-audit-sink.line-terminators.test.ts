import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileAuditSink, verifyAuditFile } from '../../../../../lambdas/adapters/local/audit-file/file-audit-sink.ts';
import type { AuditRecord } from '../../../../../lambdas/core/audit/audit-types.ts';

/** What a line-splitting reader (an editor, Python's `str.splitlines()`) takes for a line break. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the file and record separators are what is under test
const ANY_LINE_BREAK = /\r\n|[\n\v\f\r\u001c-\u001e\u0085\u2028\u2029]/;
const TERMINATORS = ['\u2028', '\u2029', '\u0085', '\v', '\f', '\r', '\u001c', '\u001d', '\u001e', '\u009b'];

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-terminators-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function record(i: number, text: string): AuditRecord {
  return {
    type: 'request',
    time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
    requestId: `r-${i}`,
    operation: 'secret.write',
    path: `secrets/app${text}db`,
    sourceIp: '127.0.0.1',
    request: { description: `first${text}second`, [`key${text}`]: text },
  };
}

describe('Class: FileAuditSink, line terminators in records', () => {
  it('writes exactly one line per record whatever terminator a record holds, and the file verifies', async () => {
    const logPath = path.join(dir, 'audit', 'audit.log');
    const sink = await FileAuditSink.open({ path: logPath });
    const records = TERMINATORS.map((text, i) => record(i, text));
    await Promise.all(records.map((r) => sink.append(r, { durable: false })));
    await sink.close();

    const text = fs.readFileSync(logPath, 'utf8');
    const lines = text.trimEnd().split(ANY_LINE_BREAK);
    expect(lines).toHaveLength(records.length);
    for (const [i, line] of lines.entries()) {
      expect(JSON.parse(line)).toMatchObject({ path: records[i]!.path, request: records[i]!.request });
    }
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: records.length });

    // Reopening resumes from the escaped last line.
    const again = await FileAuditSink.open({ path: logPath });
    await again.append(record(99, '\u2028'), { durable: true });
    await again.close();
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({ ok: true, records: records.length + 1 });
  });
});
