import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord, ChainedAuditRecord } from '../../lambdas/core/audit/audit-types.ts';
import { verifyChain } from '../../lambdas/core/audit/hash-chain.ts';
import type { AuditSink } from '../../lambdas/core/ports/audit-sink.ts';

/** One adapter under test: the sink, a way to read what reached its storage, and a way to break that storage. */
export interface AuditSinkUnderTest {
  readonly sink: AuditSink;
  /**
   * The chained lines that reached the sink's storage so far, oldest first, read from the storage itself (the file,
   * the bucket, the shipped outbox), never from the sink's memory of what it wrote.
   */
  written(): Promise<string[]>;
  /** Makes every later write to the storage fail, as a full disk or an outage would. */
  failWrites(): void;
  cleanup?: () => Promise<void>;
}

/** What the adapters' documentation says differently; each contract case asserts only what every adapter promises. */
export interface AuditSinkTraits {
  /**
   * Records of different requests reach the chain in call order. The outbox ships them in the order of its sort
   * keys (time, then request id), so it promises call order only among the records of one request.
   */
  readonly orderedAcrossRequests: boolean;
  /**
   * `close` is the end of the sink: it writes what is still queued and refuses later appends. Sinks that queue
   * nothing between calls (memory, outbox) have nothing to end.
   */
  readonly refusesAfterClose: boolean;
}

export type AuditSinkFactory = () => Promise<AuditSinkUnderTest>;

/**
 * The behaviour every {@link AuditSink} must share (memory, the audit file, S3, the audit outbox): a record is in
 * storage once `append` resolves, the storage holds a hash chain that verifies, overlapping appends keep their
 * order, and a write that fails rejects its append (the broker then fails the request). Call it from an adapter's
 * test file.
 *
 * @example
 * ```ts
 * describeAuditSinkContract('MemoryAuditSink', { orderedAcrossRequests: true, refusesAfterClose: false }, async () => {
 *   const sink = new MemoryAuditSink();
 *   return { sink, written: async () => [...sink.lines], failWrites: () => { sink.failWith = new Error('down'); } };
 * });
 * ```
 */
export function describeAuditSinkContract(name: string, traits: AuditSinkTraits, factory: AuditSinkFactory): void {
  describe(`Contract: AuditSink (${name})`, () => {
    let under: AuditSinkUnderTest;

    beforeEach(async () => {
      under = await factory();
    });

    afterEach(async () => {
      await under.sink.close().catch(() => undefined);
      await under.cleanup?.();
    });

    /** Records of one run carry a run id, so a storage shared with earlier runs cannot satisfy an assertion. */
    const run = randomUUID();
    const record = (n: number, requestId = `${run}-${n}`): AuditRecord => ({
      type: 'request',
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
      requestId,
      operation: 'secret.read',
      path: `secrets/contract/${n}`,
      sourceIp: '10.0.0.1',
      request: { n },
    });

    async function writtenRecords(): Promise<ChainedAuditRecord[]> {
      return (await under.written()).map((line) => JSON.parse(line) as ChainedAuditRecord);
    }

    it.each([false, true])('holds a record in storage once append resolves (durable: %s)', async (durable) => {
      const first = record(1);
      await under.sink.append(first, { durable });
      expect(await writtenRecords()).toEqual([expect.objectContaining(first)]);

      const second = record(2);
      await under.sink.append(second, { durable });
      expect(await writtenRecords()).toEqual([expect.objectContaining(first), expect.objectContaining(second)]);
    });

    it('writes a hash chain that verifies from seq 1 over every record appended', async () => {
      for (let n = 1; n <= 3; n++) await under.sink.append(record(n), { durable: n % 2 === 0 });
      await under.sink.append(record(4), { durable: false });
      const lines = await under.written();
      expect(await verifyChain(lines)).toEqual({
        ok: true,
        records: 4,
        last: { seq: 4, hash: (JSON.parse(lines[3]!) as ChainedAuditRecord).hash },
      });
    });

    it('keeps the call order of overlapping appends', async () => {
      // The outbox orders by request across requests; within one it keeps call order, which is what is asserted.
      const shared = traits.orderedAcrossRequests ? undefined : `${run}-one-request`;
      const records = Array.from({ length: 12 }, (_, i) => record(i + 1, shared));
      await Promise.all(records.map((each, i) => under.sink.append(each, { durable: i % 3 === 0 })));
      const written = await writtenRecords();
      expect(written.map((each) => each.path)).toEqual(records.map((each) => each.path));
      expect(written.map((each) => each.seq)).toEqual(records.map((_, i) => i + 1));
    });

    it('rejects an append whose write fails (fail-closed)', async () => {
      await under.sink.append(record(1), { durable: true });
      under.failWrites();
      await expect(under.sink.append(record(2), { durable: true })).rejects.toBeInstanceOf(Error);
      await expect(under.sink.append(record(3), { durable: false })).rejects.toBeInstanceOf(Error);
    });

    it('keeps what was written before a failed write, with its chain intact', async () => {
      await under.sink.append(record(1), { durable: true });
      under.failWrites();
      await under.sink.append(record(2), { durable: true }).catch(() => undefined);
      const lines = await under.written();
      expect(lines.map((line) => (JSON.parse(line) as AuditRecord).path)).toContain(record(1).path);
      expect((await verifyChain(lines)).ok).toBe(true);
    });

    it('leaves every record appended before close in storage', async () => {
      const appended = [record(1), record(2), record(3)].map((each) => under.sink.append(each, { durable: false }));
      await under.sink.close();
      await Promise.all(appended);
      expect((await writtenRecords()).map((each) => each.path)).toEqual([1, 2, 3].map((n) => record(n).path));
    });

    it('closes more than once without error', async () => {
      await under.sink.append(record(1), { durable: false });
      await under.sink.close();
      await expect(under.sink.close()).resolves.toBeUndefined();
    });

    if (traits.refusesAfterClose) {
      it('refuses appends after close, and writes nothing for them', async () => {
        await under.sink.append(record(1), { durable: false });
        await under.sink.close();
        await expect(under.sink.append(record(2), { durable: true })).rejects.toBeInstanceOf(Error);
        expect((await writtenRecords()).map((each) => each.path)).toEqual([record(1).path]);
      });
    }
  });
}
