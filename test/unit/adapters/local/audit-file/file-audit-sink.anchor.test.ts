import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FileAuditSink,
  formatAnchor,
  headAnchorPath,
  parseAnchor,
  verifyAuditFile,
} from '../../../../../lambdas/adapters/local/audit-file/file-audit-sink.ts';
import type { AuditRecord } from '../../../../../lambdas/core/audit/audit-types.ts';
import type { ChainHead } from '../../../../../lambdas/core/audit/hash-chain.ts';

const HASH = 'ab'.repeat(32);

let dir: string;
let logPath: string;
/** The chain head after each record: `heads[i]` is record i + 1. */
let heads: ChainHead[];

function record(i: number): AuditRecord {
  return {
    type: 'request',
    time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
    requestId: `r-${i}`,
    operation: 'secret.read',
    path: `secrets/app/${i}`,
    sourceIp: '127.0.0.1',
  };
}

async function write(count: number, from = 1): Promise<void> {
  const sink = await FileAuditSink.open({ path: logPath });
  for (let i = from; i < from + count; i++) await sink.append(record(i), { durable: false });
  await sink.close();
}

function lines(file = logPath): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

/** A copy of the log alone, without the head anchor the node keeps beside it: what an operator archives. */
function copyOf(kept: readonly string[]): string {
  const copy = path.join(dir, 'copy.log');
  fs.writeFileSync(copy, kept.length === 0 ? '' : `${kept.join('\n')}\n`);
  return copy;
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-anchor-'));
  logPath = path.join(dir, 'audit', 'audit.log');
  await write(20);
  heads = lines().map((line) => {
    const { seq, hash } = JSON.parse(line) as ChainHead;
    return { seq, hash };
  });
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Function: parseAnchor', () => {
  it('reads back what formatAnchor writes', () => {
    expect(formatAnchor({ seq: 120, hash: HASH })).toBe(`120:${HASH}`);
    expect(parseAnchor(`120:${HASH}`)).toEqual({ seq: 120, hash: HASH });
  });

  it('reads the JSON of a head anchor file or of a verify result, and upper-case hex', () => {
    expect(parseAnchor(` {"seq":7,"hash":"${HASH}"}\n`)).toEqual({ seq: 7, hash: HASH });
    expect(parseAnchor(`7:${HASH.toUpperCase()}`)).toEqual({ seq: 7, hash: HASH });
  });

  it.each([
    ['no hash', '120'],
    ['a short hash', `120:${HASH.slice(2)}`],
    ['seq 0', `0:${HASH}`],
    ['a negative seq', `-1:${HASH}`],
    ['an unsafe seq', `9007199254740993:${HASH}`],
    ['non-hex', `1:${'zz'.repeat(32)}`],
    ['JSON without a hash', '{"seq":1}'],
    ['nothing', ''],
  ])('refuses %s', (_label, text) => {
    expect(parseAnchor(text)).toBeUndefined();
  });
});

describe('Function: verifyAuditFile, anchors', () => {
  it('checks the log against the head anchor beside it', async () => {
    await expect(verifyAuditFile(logPath)).resolves.toEqual({
      ok: true,
      records: 20,
      last: heads[19],
      anchored: true,
      anchor: heads[19],
    });
  });

  it('says the end of a copy without an anchor is not anchored, even when records were cut from it', async () => {
    const result = await verifyAuditFile(copyOf(lines().slice(0, 15)));
    expect(result).toEqual({ ok: true, records: 15, last: heads[14], anchored: false });
  });

  it('fails a cut copy checked against an anchor from the original, naming how many records are missing', async () => {
    const result = await verifyAuditFile(copyOf(lines().slice(0, 15)), { anchor: heads[19] });
    expect(result).toMatchObject({ ok: false, records: 15, line: 16, seq: 16, anchored: true, anchor: heads[19] });
    expect(!result.ok && result.reason).toMatch(/^tail truncated: 5 records missing \(.*ends at seq 15.*seq 20\)$/);
  });

  it('names one missing record in the singular', async () => {
    const result = await verifyAuditFile(copyOf(lines().slice(0, 19)), { anchor: heads[19] });
    expect(!result.ok && result.reason).toMatch(/^tail truncated: 1 record missing/);
  });

  it('fails an empty copy checked against an anchor', async () => {
    await expect(verifyAuditFile(copyOf([]), { anchor: heads[19] })).resolves.toMatchObject({
      ok: false,
      records: 0,
      reason: expect.stringMatching(/20 records missing/),
    });
  });

  it('passes an untouched copy checked against an anchor from the original', async () => {
    await expect(verifyAuditFile(copyOf(lines()), { anchor: heads[19] })).resolves.toEqual({
      ok: true,
      records: 20,
      last: heads[19],
      anchored: true,
      anchor: heads[19],
    });
  });

  it('checks a copy against another file’s head anchor (the data dir’s)', async () => {
    const anchorPath = headAnchorPath(logPath);
    await expect(verifyAuditFile(copyOf(lines().slice(0, 12)), { anchorPath })).resolves.toMatchObject({
      ok: false,
      reason: expect.stringMatching(/8 records missing/),
      anchored: true,
    });
    await expect(verifyAuditFile(copyOf(lines()), { anchorPath })).resolves.toMatchObject({ ok: true, anchored: true });
  });

  it('prefers an explicit anchor to the anchor file', async () => {
    fs.writeFileSync(headAnchorPath(logPath), 'garbage');
    await expect(verifyAuditFile(logPath, { anchor: heads[19] })).resolves.toMatchObject({ ok: true, anchored: true });
  });

  it('counts a missing anchor file as no anchor', async () => {
    await expect(
      verifyAuditFile(copyOf(lines()), { anchorPath: path.join(dir, 'no-such.head') }),
    ).resolves.toMatchObject({ ok: true, anchored: false });
  });

  it('takes the empty anchor file of a node that has written nothing as vouching for an empty log only', async () => {
    const fresh = path.join(dir, 'fresh', 'audit.log');
    await (await FileAuditSink.open({ path: fresh })).close();
    expect(fs.readFileSync(headAnchorPath(fresh), 'utf8')).toBe('');
    await expect(verifyAuditFile(fresh)).resolves.toEqual({ ok: true, records: 0, anchored: true });
    const emptyAnchor = { anchorPath: headAnchorPath(fresh) };
    await expect(verifyAuditFile(copyOf(lines()), emptyAnchor)).resolves.toMatchObject({ ok: true, anchored: false });
  });

  it('passes a log that grew past an older anchor, and says which anchor it holds', async () => {
    await expect(verifyAuditFile(logPath, { anchor: heads[9] })).resolves.toEqual({
      ok: true,
      records: 20,
      last: heads[19],
      anchored: true,
      anchor: heads[9],
    });
  });

  it('fails a log whose record at the anchor’s seq is a different one', async () => {
    await expect(verifyAuditFile(logPath, { anchor: { seq: 10, hash: HASH } })).resolves.toMatchObject({
      ok: false,
      line: 10,
      seq: 10,
      reason: expect.stringMatching(/anchor/),
    });
  });

  it('does not count an anchor from before the file’s first record (a rotated-away file) as anchoring it', async () => {
    fs.renameSync(logPath, `${logPath}.1`);
    await write(3, 21); // opens with audit.continued at seq 21
    await expect(verifyAuditFile(logPath, { anchor: heads[9] })).resolves.toMatchObject({
      ok: true,
      records: 4,
      last: { seq: 24 },
      anchored: false,
      anchor: heads[9],
    });
    // The record just before the file is not in it either.
    await expect(verifyAuditFile(logPath, { anchor: heads[19] })).resolves.toMatchObject({ anchored: false });
  });

  it('fails when the anchor file is unreadable, without calling the log anchored', async () => {
    fs.writeFileSync(headAnchorPath(logPath), 'garbage');
    await expect(verifyAuditFile(logPath)).resolves.toMatchObject({
      ok: false,
      line: 21,
      reason: expect.stringMatching(/unreadable/),
      anchored: false,
    });
  });
});
