import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditRecord, ChainedAuditRecord } from '../../../../lambdas/core/audit/audit-types.ts';
import {
  AUDIT_CONTINUED,
  chainRecord,
  GENESIS_HASH,
  serialise,
  verifyChain,
} from '../../../../lambdas/core/audit/hash-chain.ts';

function record(i: number): AuditRecord {
  return {
    type: i % 2 === 0 ? 'request' : 'response',
    time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
    requestId: `req-${Math.floor(i / 2)}`,
    operation: 'secret.read',
    path: `secrets/app/${i}`,
    sourceIp: '127.0.0.1',
    request: { n: i, nested: { z: 1, a: 'ü\n"\u001f' } },
  };
}

function chainOf(count: number, from?: { seq: number; hash: string }, first?: AuditRecord): string[] {
  const lines: string[] = [];
  let prev = from;
  for (let i = 0; i < count; i++) {
    const chained = chainRecord(prev, i === 0 && first !== undefined ? first : record(i));
    lines.push(serialise(chained));
    prev = chained;
  }
  return lines;
}

const LINES = chainOf(1000);
const HEAD = JSON.parse(LINES[999]!) as ChainedAuditRecord;

function flipByte(line: string, position: number): string {
  const bytes = Buffer.from(line, 'utf8');
  bytes[position]! ^= 0x01;
  return bytes.toString('utf8');
}

function replaced(lines: readonly string[], k: number, line: string): string[] {
  const copy = [...lines];
  copy[k - 1] = line;
  return copy;
}

describe('Function: chainRecord', () => {
  it('starts a chain at seq 1 after the genesis hash', () => {
    const first = chainRecord(undefined, record(0));
    expect(first.seq).toBe(1);
    expect(first.prev).toBe(GENESIS_HASH);
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });

  it('hashes the previous hash, a newline and the written line without its hash member', () => {
    const first = chainRecord(undefined, record(0));
    const second = chainRecord(first, record(1));
    const line = serialise(second);
    expect(line).toBe(JSON.stringify(second));
    const suffix = `,"hash":"${second.hash}"}`;
    expect(line.endsWith(suffix)).toBe(true);
    expect(second.seq).toBe(2);
    expect(second.prev).toBe(first.hash);
    expect(second.hash).toBe(
      createHash('sha256')
        .update(`${first.hash}\n${line.slice(0, -suffix.length)}}`)
        .digest('hex'),
    );
  });

  it('drops the links of a record that was chained before', () => {
    const old = chainRecord(undefined, record(0));
    const again = chainRecord({ seq: 7, hash: 'a'.repeat(64) }, old);
    expect(again.seq).toBe(8);
    expect(again.prev).toBe('a'.repeat(64));
    expect(again.hash).not.toBe(old.hash);
  });
});

describe('Function: serialise', () => {
  it('writes one line that parses back to the record', () => {
    const chained = chainRecord(undefined, record(0));
    const line = serialise(chained);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(chained);
  });
});

describe('Function: verifyChain', () => {
  it('accepts an untouched chain of 1,000 records and reports its head', async () => {
    await expect(verifyChain(LINES)).resolves.toEqual({
      ok: true,
      records: 1000,
      last: { seq: 1000, hash: HEAD.hash },
    });
  });

  it('accepts an empty log and a trailing empty line', async () => {
    await expect(verifyChain([])).resolves.toEqual({ ok: true, records: 0 });
    await expect(verifyChain(`${LINES.slice(0, 3).join('\n')}\n`.split('\n'))).resolves.toMatchObject({
      ok: true,
      records: 3,
    });
  });

  it('reads async iterables', async () => {
    async function* stream() {
      yield* LINES.slice(0, 10);
    }
    await expect(verifyChain(stream())).resolves.toMatchObject({ ok: true, records: 10 });
  });

  it.each([1, 2, 500, 999, 1000])('names line %i when one of its bytes changed', async (k) => {
    const line = LINES[k - 1]!;
    const length = Buffer.byteLength(line);
    for (const position of [0, 1, 10, Math.floor(length / 2), length - 70, length - 2, length - 1]) {
      const result = await verifyChain(replaced(LINES, k, flipByte(line, position)));
      expect(result, `byte ${position}`).toMatchObject({ ok: false, line: k, records: k - 1 });
    }
  });

  it('names the changed line for any byte of any line', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.nat(), async (k, at) => {
        const line = LINES[k - 1]!;
        const result = await verifyChain(replaced(LINES, k, flipByte(line, at % Buffer.byteLength(line))));
        expect(result).toMatchObject({ ok: false, line: k });
      }),
      { numRuns: 100 },
    );
  });

  it('catches a change that parses to the same value', async () => {
    const k = 42;
    const altered = LINES[k - 1]!.replace('\\u001f', '\\u001F');
    expect(altered).not.toBe(LINES[k - 1]);
    await expect(verifyChain(replaced(LINES, k, altered))).resolves.toMatchObject({
      ok: false,
      line: k,
      reason: expect.stringMatching(/altered/),
    });
  });

  it.each([1, 500, 999])('names line %i when that line was deleted', async (k) => {
    const lines = LINES.filter((_, i) => i !== k - 1);
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: k, seq: k + 1, records: k - 1 });
  });

  it.each([1, 500, 999])('names line %i when it was swapped with the next', async (k) => {
    const lines = [...LINES];
    [lines[k - 1], lines[k]] = [lines[k]!, lines[k - 1]!];
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: k, seq: k + 1 });
  });

  it.each([1, 300, 1000])('names line %i when a forged line was inserted there', async (k) => {
    const forged = { ...(JSON.parse(LINES[k - 1]!) as ChainedAuditRecord), path: 'secrets/forged' };
    const lines = [...LINES];
    lines.splice(k - 1, 0, serialise(forged));
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: k, reason: /hash mismatch/ });
  });

  it('names the inserted position when a copy of another line was inserted', async () => {
    const lines = [...LINES];
    lines.splice(499, 0, LINES[99]!);
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: 500, reason: /sequence/ });
  });

  it('catches a correctly hashed insertion at the next genuine line', async () => {
    const prev = JSON.parse(LINES[298]!) as ChainedAuditRecord;
    const forged = serialise(chainRecord(prev, { ...record(1), path: 'secrets/forged' }));
    const lines = [...LINES];
    lines.splice(299, 0, forged);
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: 301, seq: 300 });
  });

  it('names the line after the end when the tail is truncated and the head is known', async () => {
    const head = { seq: HEAD.seq, hash: HEAD.hash };
    const lines = LINES.slice(0, 990);
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: true, records: 990 });
    await expect(verifyChain(lines, { head })).resolves.toMatchObject({
      ok: false,
      records: 990,
      line: 991,
      seq: 991,
      reason: expect.stringMatching(/truncated/),
    });
    await expect(verifyChain([], { head })).resolves.toMatchObject({ ok: false, line: 1 });
  });

  it('accepts a log that runs past a lagging head anchor', async () => {
    const lagging = JSON.parse(LINES[899]!) as ChainedAuditRecord;
    await expect(verifyChain(LINES, { head: { seq: lagging.seq, hash: lagging.hash } })).resolves.toMatchObject({
      ok: true,
      records: 1000,
    });
  });

  it('names the anchored line when it does not carry the anchored hash', async () => {
    await expect(verifyChain(LINES, { head: { seq: 700, hash: 'f'.repeat(64) } })).resolves.toMatchObject({
      ok: false,
      line: 700,
      reason: expect.stringMatching(/head anchor/),
    });
  });

  it.each([1, 17, 1000])('names line %i when it is not JSON', async (k) => {
    await expect(verifyChain(replaced(LINES, k, '{"seq":'))).resolves.toMatchObject({
      ok: false,
      line: k,
      reason: expect.stringMatching(/not valid JSON/),
    });
  });

  it('names a JSON line that is not a chained record', async () => {
    await expect(verifyChain(replaced(LINES, 3, '{"seq":3}'))).resolves.toMatchObject({ ok: false, line: 3 });
    await expect(verifyChain(replaced(LINES, 3, '[]'))).resolves.toMatchObject({ ok: false, line: 3 });
  });

  it('names an empty line inside the log', async () => {
    const lines = [...LINES.slice(0, 5), '', ...LINES.slice(5, 10)];
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: 6, reason: /empty/ });
  });

  it('accepts a file that continues a rotated chain with an audit.continued record', async () => {
    const from = { seq: 41, hash: 'c'.repeat(64) };
    const continued: AuditRecord = {
      type: 'system',
      time: new Date(0).toISOString(),
      requestId: 'r',
      operation: AUDIT_CONTINUED,
      path: '',
      sourceIp: '',
      details: { previousSeq: 41, previousHash: from.hash },
    };
    const lines = chainOf(5, from, continued);
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: true, records: 5, last: { seq: 46 } });
  });

  it('rejects a file that starts mid-chain without an audit.continued record', async () => {
    const lines = chainOf(5, { seq: 41, hash: 'c'.repeat(64) });
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: false, line: 1, seq: 42 });
  });
});

/** Every character some reader takes for a line break: Unicode's line terminators and JSON's own. */
const ANY_LINE_BREAK = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/;
const TERMINATORS = ['\u2028', '\u2029', '\u0085', '\v', '\f', '\r', '\n', '\u007f', '\u009b', '\u202e', '\u2066'];

describe('Line terminators and control characters in records', () => {
  function withText(i: number, text: string): AuditRecord {
    return { ...record(i), path: `secrets/${text}`, request: { note: `a${text}b`, [`k${text}`]: [text] } };
  }

  it('writes each as a \\u escape, one line per record, that parses back to the record and verifies', async () => {
    const lines: string[] = [];
    let prev: ChainedAuditRecord | undefined;
    for (const [i, text] of TERMINATORS.entries()) {
      const chained = chainRecord(prev, withText(i, text));
      const line = serialise(chained);
      expect(line.split(ANY_LINE_BREAK)).toHaveLength(1);
      expect(line).not.toMatch(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
      expect(JSON.parse(line)).toEqual(chained);
      expect((JSON.parse(line) as AuditRecord).path).toBe(`secrets/${text}`);
      lines.push(line);
      prev = chained;
    }
    const text = `${lines.join('\n')}\n`;
    expect(text.split(ANY_LINE_BREAK)).toHaveLength(TERMINATORS.length + 1);
    await expect(verifyChain(text.split('\n'))).resolves.toMatchObject({ ok: true, records: TERMINATORS.length });
  });

  it('hashes the escaped line as written, so the documented recipe still holds', () => {
    const chained = chainRecord(undefined, withText(0, '\u2028'));
    const line = serialise(chained);
    const suffix = `,"hash":"${chained.hash}"}`;
    expect(line).toContain('\\u2028');
    expect(chained.hash).toBe(
      createHash('sha256')
        .update(`${GENESIS_HASH}\n${line.slice(0, -suffix.length)}}`)
        .digest('hex'),
    );
  });

  it('still verifies lines written before the escaping, which hold the characters raw', async () => {
    // How the log wrote (and hashed) a record before: plain JSON.stringify.
    const lines: string[] = [];
    let prev: { seq: number; hash: string } | undefined;
    for (const [i, text] of ['\u2028', 'plain', '\u0085'].entries()) {
      const body = { ...withText(i, text), seq: (prev?.seq ?? 0) + 1, prev: prev?.hash ?? GENESIS_HASH };
      const bodyJson = JSON.stringify(body);
      const hash = createHash('sha256').update(`${body.prev}\n${bodyJson}`).digest('hex');
      lines.push(`${bodyJson.slice(0, -1)},"hash":"${hash}"}`);
      prev = { seq: body.seq, hash };
    }
    expect(lines[0]).toContain('\u2028');
    await expect(verifyChain(lines)).resolves.toMatchObject({ ok: true, records: 3 });
    // Continuing such a log with new (escaped) lines keeps the chain whole.
    const next = serialise(chainRecord(prev, withText(3, '\u2029')));
    await expect(verifyChain([...lines, next])).resolves.toMatchObject({ ok: true, records: 4 });
  });

  it('catches a line whose escape was turned back into the raw character, and the reverse', async () => {
    const first = chainRecord(undefined, withText(0, '\u2028'));
    const line = serialise(first);
    await expect(verifyChain([line.replace('\\u2028', '\u2028')])).resolves.toMatchObject({ ok: false, line: 1 });
    const raw = JSON.stringify(first);
    expect(raw).toContain('\u2028');
    await expect(verifyChain([raw])).resolves.toMatchObject({ ok: false, line: 1 });
  });
});
