import { randomBytes } from 'node:crypto';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { Broker } from '../../../../../lambdas/broker/broker.ts';
import type { BrokerDeps } from '../../../../../lambdas/broker/broker-deps.ts';
import { API_VERSION, nativeRoutes } from '../../../../../lambdas/broker/routes/index.ts';
import { AuditHasher } from '../../../../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../../../../lambdas/core/audit/audit-log.ts';
import type { AuditRecord } from '../../../../../lambdas/core/audit/audit-types.ts';
import {
  AuditOutbox,
  OUTBOX_PARTITION_PREFIX,
  type OutboxItemData,
  outboxPartition,
} from '../../../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { OutboxAuditSink } from '../../../../../lambdas/core/audit/outbox/outbox-audit-sink.ts';
import type { AuditSegmentStore } from '../../../../../lambdas/core/audit/outbox/outbox-relay.ts';
import { OutboxStore } from '../../../../../lambdas/core/audit/outbox/outbox-store.ts';
import { TokenService } from '../../../../../lambdas/core/auth/token/token-service.ts';
import { PolicyService } from '../../../../../lambdas/core/policy/policy-service.ts';
import type { Clock } from '../../../../../lambdas/core/ports/clock.ts';
import type { StoredItem, WriteOp } from '../../../../../lambdas/core/ports/store.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';
import { regionalSecretsDeps } from '../../../../support/regional-secrets.ts';

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/**
 * The memory store, recording every transaction it is given and able to refuse the ones that write the outbox (a
 * DynamoDB outage seen only by audit writes would look the same to the code under test).
 */
export class RecordingStore extends MemoryStore {
  readonly transactions: WriteOp[][] = [];
  failOutboxWrites: Error | undefined;

  override async transact(ops: readonly WriteOp[]): Promise<void> {
    if (this.failOutboxWrites !== undefined && ops.some((op) => op.pk.startsWith(OUTBOX_PARTITION_PREFIX))) {
      throw this.failOutboxWrites;
    }
    await super.transact(ops);
    this.transactions.push([...ops]);
  }

  /** Every outbox item, in shard then sort-key order. */
  async outboxItems(shards = 4): Promise<StoredItem<OutboxItemData>[]> {
    const items: StoredItem<OutboxItemData>[] = [];
    for (let shard = 0; shard < shards; shard++) {
      items.push(...(await this.query<OutboxItemData>(outboxPartition(shard), { limit: 1000 })).items);
    }
    return items;
  }

  async outboxRecords(shards = 4): Promise<AuditRecord[]> {
    return (await this.outboxItems(shards)).flatMap((item) => item.data.records);
  }
}

export function isOutboxPut(op: WriteOp): op is Extract<WriteOp, { type: 'put' }> & { data: OutboxItemData } {
  return op.type === 'put' && op.pk.startsWith(OUTBOX_PARTITION_PREFIX);
}

/** A broker wired like the AWS composition root, on the memory store. */
export async function outboxNode(clock: Clock = new ManualClock()) {
  const items = new RecordingStore();
  const outbox = new AuditOutbox({ store: items, clock });
  const store = new OutboxStore(items, outbox);
  const audit = new AuditLog({ sink: new OutboxAuditSink(outbox), hasher: new AuditHasher(randomBytes(32)), clock });
  const tokens = new TokenService({ store, clock });
  const deps: BrokerDeps = {
    ...regionalSecretsDeps({ store, keyProvider: new FakeKeyProvider(), clock }),
    tokens,
    policies: new PolicyService({ store, clock }),
    audit,
    clock,
    system: { version: API_VERSION, runtime: 'aws' },
    requestScope: (requestId, fn) => outbox.run(requestId, fn),
  };
  const broker = new Broker(deps, nativeRoutes(), () => {});
  const { token: rootToken } = await tokens.createRoot();
  return { broker, deps, items, store, outbox, rootToken };
}

/** Segments in memory, keyed by seq range; `create` never overwrites, as S3 with `IfNoneMatch: '*'`. */
export class MemorySegments implements AuditSegmentStore {
  readonly objects = new Map<string, string>();
  creates = 0;

  async create(first: number, last: number, body: string): Promise<'created' | 'exists'> {
    this.creates++;
    const key = `${first}-${last}`;
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, body);
    return 'created';
  }

  async read(first: number, last: number): Promise<string | undefined> {
    return this.objects.get(`${first}-${last}`);
  }

  /** Every line of the stream in seq order, and whether the ranges are contiguous from seq 1. */
  lines(): { lines: string[]; contiguous: boolean } {
    const ranges = [...this.objects.keys()].map((key) => key.split('-').map(Number) as [number, number]);
    ranges.sort((a, b) => a[0] - b[0]);
    let next = 1;
    let contiguous = true;
    const lines: string[] = [];
    for (const [first, last] of ranges) {
      if (first !== next) contiguous = false;
      next = last + 1;
      lines.push(...this.objects.get(`${first}-${last}`)!.trimEnd().split('\n'));
    }
    return { lines, contiguous };
  }
}
