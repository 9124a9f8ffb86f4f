import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../../../lambdas/core/audit/audit-types.ts';
import { verifyChain } from '../../../../../lambdas/core/audit/hash-chain.ts';
import { AuditOutbox } from '../../../../../lambdas/core/audit/outbox/audit-outbox.ts';
import {
  AuditRelayError,
  type AuditSegmentStore,
  buildSegment,
  OutboxRelay,
  RELAY_PARTITION,
} from '../../../../../lambdas/core/audit/outbox/outbox-relay.ts';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';
import { ManualClock, MemorySegments, RecordingStore } from './outbox-support.ts';

function record(requestId: string, n: number): AuditRecord {
  return {
    type: 'request',
    time: new Date(Date.UTC(2026, 0, 1) + n).toISOString(),
    requestId,
    operation: 'secret.write',
    path: `secrets/app/${n}`,
    sourceIp: '10.0.0.1',
  };
}

/** Writes `count` requests' records to the outbox, one request per millisecond. */
async function fill(outbox: AuditOutbox, clock: ManualClock, count: number, tag = 'r'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${tag}-${i}`;
    ids.push(id);
    await outbox.run(id, () => outbox.append(record(id, i)));
    clock.advance(1);
  }
  return ids;
}

function setup(options: { batchItems?: number; segments?: AuditSegmentStore } = {}) {
  const clock = new ManualClock();
  const store = new RecordingStore();
  const outbox = new AuditOutbox({ store, clock });
  const memory = new MemorySegments();
  const segments = options.segments ?? memory;
  const relay = (extra: { segments?: AuditSegmentStore; batchItems?: number } = {}) =>
    new OutboxRelay({
      store,
      clock,
      segments: extra.segments ?? segments,
      batchItems: extra.batchItems ?? options.batchItems ?? 99,
    });
  return { clock, store, outbox, segments: memory, relay };
}

/** Request ids of the shipped stream, in chain order, after checking the chain. */
async function shipped(segments: MemorySegments): Promise<string[]> {
  const { lines, contiguous } = segments.lines();
  expect(contiguous).toBe(true);
  expect(await verifyChain(lines)).toMatchObject({ ok: true, records: lines.length });
  return lines.map((line) => (JSON.parse(line) as AuditRecord).requestId);
}

/** Runs `fn` once, then behaves as `inner`. */
class FailOnce implements AuditSegmentStore {
  armed = true;
  constructor(
    private readonly inner: AuditSegmentStore,
    private readonly when: 'before' | 'after',
  ) {}
  async create(first: number, last: number, body: string): Promise<'created' | 'exists'> {
    if (this.armed && this.when === 'before') {
      this.armed = false;
      throw new Error('S3 unavailable');
    }
    const outcome = await this.inner.create(first, last, body);
    if (this.armed) {
      this.armed = false;
      throw new Error('crashed after the segment was written');
    }
    return outcome;
  }
  read(first: number, last: number): Promise<string | undefined> {
    return this.inner.read(first, last);
  }
}

describe('Class: OutboxRelay', () => {
  it('ships the outbox in sort-key order as a verified chain, then empties it', async () => {
    const { clock, store, outbox, segments, relay } = setup();
    const ids = await fill(outbox, clock, 12);
    const result = await relay().run();
    expect(result).toEqual({ segments: 1, records: 12 });
    expect(await shipped(segments)).toEqual(ids);
    expect(await store.outboxItems()).toEqual([]);
    expect(await relay().head()).toMatchObject({ seq: 12 });
  });

  it('continues the chain across batches and runs', async () => {
    const { clock, store, outbox, segments, relay } = setup({ batchItems: 5 });
    const first = await fill(outbox, clock, 12, 'a');
    expect(await relay().run()).toEqual({ segments: 3, records: 12 });
    const second = await fill(outbox, clock, 3, 'b');
    expect(await relay().run()).toEqual({ segments: 1, records: 3 });
    expect([...segments.objects.keys()]).toEqual(['1-5', '6-10', '11-12', '13-15']);
    expect(await shipped(segments)).toEqual([...first, ...second]);
    expect(await store.outboxItems()).toEqual([]);
  });

  it('finishes a segment written before a crash: no gap, no duplicate, even when older items arrived since', async () => {
    const { clock, store, outbox, segments, relay } = setup();
    const early = await fill(outbox, clock, 4, 'early');
    const crashing = new FailOnce(segments, 'after');
    await expect(relay({ segments: crashing }).run()).rejects.toThrow('crashed after the segment was written');
    expect(segments.objects.size).toBe(1);
    // A writer with a slow clock commits an item whose key sorts before the ones already in the segment.
    clock.advance(-1000);
    const late = await fill(outbox, clock, 2, 'late');
    const result = await relay().run();
    expect(result).toEqual({ segments: 2, records: 6 });
    expect(await shipped(segments)).toEqual([...early, ...late]);
    expect(await store.outboxItems()).toEqual([]);
  });

  it('retries a segment that S3 refused, keeping every record in the outbox meanwhile', async () => {
    const { clock, store, outbox, segments, relay } = setup();
    const ids = await fill(outbox, clock, 3);
    await expect(relay({ segments: new FailOnce(segments, 'before') }).run()).rejects.toThrow('S3 unavailable');
    expect(await store.outboxItems()).toHaveLength(3);
    expect(await relay().oldestUnshippedAgeMs()).toBe(3);
    await relay().run();
    expect(await shipped(segments)).toEqual(ids);
  });

  it('never forks the chain when relays race', async () => {
    const { clock, store, outbox, segments, relay } = setup({ batchItems: 3 });
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      ids.push(...(await fill(outbox, clock, 7, `round${round}`)));
      // Different batch sizes: each relay would cut the chain into different segments.
      await Promise.all([2, 3, 5].map((batchItems) => relay({ batchItems }).run()));
    }
    const order = await shipped(segments);
    expect([...order].sort()).toEqual([...ids].sort());
    expect(new Set(order).size).toBe(order.length);
    expect(await store.outboxItems()).toEqual([]);
  });

  it('lets a relay that stalled inside its write lose the race without forking', async () => {
    const { clock, store, outbox, segments, relay } = setup();
    await fill(outbox, clock, 2, 'x');
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const stalled: AuditSegmentStore = {
      create: async (first, last, body) => {
        entered();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return segments.create(first, last, body);
      },
      read: (first, last) => segments.read(first, last),
    };
    const slow = relay({ segments: stalled }).run();
    await inside;
    // Meanwhile another relay finishes the pending segment and ships new records after it.
    expect(await relay().run()).toEqual({ segments: 1, records: 2 });
    await fill(outbox, clock, 2, 'y');
    expect(await relay().run()).toEqual({ segments: 1, records: 2 });
    release();
    expect(await slow).toEqual({ segments: 0, records: 0 });
    expect(await shipped(segments)).toEqual(['x-0', 'x-1', 'y-0', 'y-1']);
    expect(await store.outboxItems()).toEqual([]);
  });

  it('stops when the log already holds a different segment at the next seqs', async () => {
    const { clock, outbox, segments, relay } = setup();
    await fill(outbox, clock, 2);
    const forged = buildSegment({ seq: 0, hash: '0'.repeat(64) }, [record('forged', 1), record('forged', 2)]);
    await segments.create(1, 2, forged.body);
    await expect(relay().run()).rejects.toBeInstanceOf(AuditRelayError);
    expect(segments.objects.get('1-2')).toBe(forged.body);
  });

  it('reports the age of the oldest unshipped record, and 0 when the outbox is empty', async () => {
    const { clock, outbox, relay } = setup();
    expect(await relay().oldestUnshippedAgeMs()).toBe(0);
    await fill(outbox, clock, 1);
    clock.advance(90_000);
    expect(await relay().oldestUnshippedAgeMs()).toBe(90_001);
    await relay().run();
    expect(await relay().oldestUnshippedAgeMs()).toBe(0);
  });

  it('refuses a malformed head and out-of-range options', async () => {
    const { store, relay } = setup();
    await store.transact([{ type: 'put', pk: RELAY_PARTITION, sk: 'head#outbox', data: { seq: 'x' } }]);
    await expect(relay().run()).rejects.toBeInstanceOf(AuditRelayError);
    expect(() => new OutboxRelay({ store, segments: new MemorySegments(), batchItems: 100 })).toThrow(ValidationError);
    expect(() => new OutboxRelay({ store, segments: new MemorySegments(), streamId: 'a/b' })).toThrow(ValidationError);
  });
});

describe('scoped outboxes (a replica region sharing a global table)', () => {
  it('ships each scope’s records to its own chain only, with heads of their own', async () => {
    const clock = new ManualClock();
    const store = new RecordingStore();
    const primary = new AuditOutbox({ store, clock });
    const replica = new AuditOutbox({ store, clock, scope: 'us-west-2' });
    await fill(primary, clock, 3, 'east');
    await fill(replica, clock, 2, 'west');
    const eastSegments = new MemorySegments();
    const westSegments = new MemorySegments();
    const east = new OutboxRelay({ store, clock, segments: eastSegments });
    const west = new OutboxRelay({
      store,
      clock,
      segments: westSegments,
      scope: 'us-west-2',
      streamId: 'outbox-us-west-2',
    });
    expect(west.shardPartitions()).toContain('audit-outbox@us-west-2#0');
    // The scoped partitions do not begin with the unscoped prefix: a stream filter on one never wakes the other.
    expect(west.shardPartitions().some((pk) => pk.startsWith('audit-outbox#'))).toBe(false);
    await east.run();
    await west.run();
    expect(await shipped(eastSegments)).toEqual(['east-0', 'east-1', 'east-2']);
    expect(await shipped(westSegments)).toEqual(['west-0', 'west-1']);
    expect(east.headKey).not.toBe(west.headKey);
  });

  it('refuses a scope that is not a region-like name', () => {
    expect(() => new AuditOutbox({ store: new RecordingStore(), scope: 'US WEST' })).toThrow(ValidationError);
    expect(() => new OutboxRelay({ store: new RecordingStore(), segments: new MemorySegments(), scope: '#' })).toThrow(
      ValidationError,
    );
  });
});
