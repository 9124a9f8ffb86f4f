import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { AuditOutbox, OUTBOX_PARTITION_PREFIX } from '../../../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { OutboxAuditSink } from '../../../../../lambdas/core/audit/outbox/outbox-audit-sink.ts';
import { OutboxRelay } from '../../../../../lambdas/core/audit/outbox/outbox-relay.ts';
import type { WriteOp } from '../../../../../lambdas/core/ports/store.ts';
import { describeAuditSinkContract } from '../../../../contract/audit-sink.contract.ts';
import { ManualClock, MemorySegments } from './outbox-support.ts';

/** Refuses new outbox items once told to (the writers' side of an outage); the relay's deletes still go through. */
class FailingOutboxStore extends MemoryStore {
  failing = false;

  override async transact(ops: readonly WriteOp[]): Promise<void> {
    if (this.failing && ops.some((op) => op.type === 'put' && op.pk.startsWith(OUTBOX_PARTITION_PREFIX))) {
      throw new Error('the items table is unavailable');
    }
    await super.transact(ops);
  }
}

// Appends made outside a request scope are written at once, one outbox item each: the form the contract can hold
// to "in storage once append resolves". Inside a request the outbox holds records until a change or the response
// carries them (see audit-outbox.test.ts). The relay ships the outbox into the chain the contract reads. The clock
// stands still, so every item shares one millisecond: the hardest case for the outbox's keys and order.
describeAuditSinkContract(
  'OutboxAuditSink (memory store)',
  { orderedAcrossRequests: false, refusesAfterClose: false },
  async () => {
    const store = new FailingOutboxStore();
    const outbox = new AuditOutbox({ store, clock: new ManualClock() });
    const segments = new MemorySegments();
    const relay = new OutboxRelay({ store, segments });
    return {
      sink: new OutboxAuditSink(outbox),
      written: async () => {
        await relay.run();
        return segments.lines().lines;
      },
      failWrites: () => {
        store.failing = true;
      },
    };
  },
);
