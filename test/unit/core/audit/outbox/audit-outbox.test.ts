import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../../lambdas/broker/routes/index.ts';
import type { AuditRecord } from '../../../../../lambdas/core/audit/audit-types.ts';
import {
  AUDIT_CHANGE,
  AuditOutbox,
  outboxPartition,
  outboxShard,
  outboxSortKey,
} from '../../../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { OutboxAuditSink } from '../../../../../lambdas/core/audit/outbox/outbox-audit-sink.ts';
import { OutboxStore } from '../../../../../lambdas/core/audit/outbox/outbox-store.ts';
import { AuditUnavailableError, ValidationError } from '../../../../../lambdas/core/errors.ts';
import { ConditionFailedError, MAX_TRANSACTION_OPS, type WriteOp } from '../../../../../lambdas/core/ports/store.ts';
import { request } from '../../../../support/memory-node.ts';
import { isOutboxPut, ManualClock, outboxNode, RecordingStore } from './outbox-support.ts';

const json = (body: string) => JSON.parse(body) as Record<string, unknown> & { error: { code: string } };

function record(type: AuditRecord['type'], requestId: string, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    type,
    time: '2026-01-01T00:00:00.000Z',
    requestId,
    operation: 'secret.write',
    path: 'secrets/a',
    sourceIp: '10.0.0.1',
    ...extra,
  };
}

function put(sk: string, condition?: WriteOp['condition']): WriteOp {
  return condition === undefined
    ? { type: 'put', pk: 'things', sk, data: { sk } }
    : { type: 'put', pk: 'things', sk, data: { sk }, condition };
}

function scoped() {
  const items = new RecordingStore();
  const clock = new ManualClock();
  const outbox = new AuditOutbox({ store: items, clock });
  return { items, clock, outbox, store: new OutboxStore(items, outbox), sink: new OutboxAuditSink(outbox) };
}

describe('Class: OutboxStore and OutboxAuditSink through the broker', () => {
  it('commits a change in the same transaction as its request record', async () => {
    const { broker, items, rootToken } = await outboxNode();
    const before = items.transactions.length;
    const res = await broker.handle(
      request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'hunter2' } }),
    );
    expect(res.status).toBe(200);
    const requestId = res.headers['x-request-id'];
    const changes = items.transactions.slice(before).filter((ops) => ops.some((op) => !isOutboxPut(op)));
    expect(changes).toHaveLength(1);
    const change = changes[0];
    const carried = change!.filter(isOutboxPut);
    expect(carried).toHaveLength(1);
    expect(carried[0]!.data.records.map((r) => [r.type, r.requestId])).toEqual([['request', requestId]]);
    const records = await items.outboxRecords();
    expect(records.map((r) => [r.type, r.requestId])).toEqual([
      ['request', requestId],
      ['response', requestId],
    ]);
    expect(JSON.stringify(records)).not.toContain('hunter2');
  });

  it('audits reads: the request and response records are written before the value is returned', async () => {
    const { broker, items, rootToken } = await outboxNode();
    await broker.handle(request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'v' } }));
    const got = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(json(got.body).value).toBe('v');
    const requestId = got.headers['x-request-id'];
    const records = (await items.outboxRecords()).filter((r) => r.requestId === requestId);
    expect(records.map((r) => [r.type, r.operation, r.status])).toEqual([
      ['request', 'secret.read', undefined],
      ['response', 'secret.read', 200],
    ]);
  });

  it('audits a refusal before any change', async () => {
    const { broker, items } = await outboxNode();
    const res = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: 'bogus' }));
    expect(res.status).toBe(401);
    const records = (await items.outboxRecords()).filter((r) => r.requestId === res.headers['x-request-id']);
    expect(records.map((r) => [r.type, r.outcome])).toEqual([['response', 'denied']]);
  });

  it('fails a change with audit_unavailable, and leaves no change, when the outbox cannot be written', async () => {
    const { broker, items, rootToken } = await outboxNode();
    items.failOutboxWrites = new Error('DynamoDB unavailable');
    const res = await broker.handle(
      request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'v' } }),
    );
    expect(res.status).toBe(503);
    expect(json(res.body).error.code).toBe('audit_unavailable');
    items.failOutboxWrites = undefined;
    const got = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(got.status).toBe(404);
  });

  it('fails a read with audit_unavailable, without the value, when the outbox cannot be written', async () => {
    const { broker, items, rootToken } = await outboxNode();
    await broker.handle(request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'hunter2' } }));
    items.failOutboxWrites = new Error('DynamoDB unavailable');
    const got = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(got.status).toBe(503);
    expect(got.body).not.toContain('hunter2');
    expect(json(got.body).error.code).toBe('audit_unavailable');
  });
  it('fails the request closed when its request scope rejects', async () => {
    const { deps } = await outboxNode();
    const broker = new Broker(
      {
        ...deps,
        requestScope: async (_id, fn) => {
          await fn();
          throw new AuditUnavailableError('audit outbox unavailable');
        },
      },
      nativeRoutes(),
      () => {},
    );
    const res = await broker.handle(request('GET', '/v1/sys/health'));
    expect(res.status).toBe(503);
    expect(json(res.body).error.code).toBe('audit_unavailable');
  });
});

describe('Class: OutboxStore', () => {
  it('leaves neither the change nor its records when the transaction fails, and keeps the records pending', async () => {
    const { items, outbox, store, sink } = scoped();
    await outbox.run('req-1', async () => {
      await sink.append(record('request', 'req-1'), { durable: true });
      await expect(store.transact([put('a', { kind: 'exists' })])).rejects.toBeInstanceOf(ConditionFailedError);
      expect(await items.get('things', 'a')).toBeUndefined();
      expect(await items.outboxItems()).toEqual([]);
    });
    // The request happened, so its record is written when the request ends, on its own.
    expect((await items.outboxRecords()).map((r) => r.type)).toEqual(['request']);
    expect(items.transactions).toHaveLength(1);
    expect(items.transactions[0]!.every(isOutboxPut)).toBe(true);
  });

  it('carries the request record with the first change and an audit.change marker with later ones', async () => {
    const { items, outbox, store, sink } = scoped();
    await outbox.run('req-2', async () => {
      await sink.append(record('request', 'req-2'), { durable: true });
      await store.transact([put('a')]);
      await store.transact([put('b'), put('c')]);
      await sink.append(record('response', 'req-2'), { durable: true });
    });
    const [first, second] = items.transactions;
    expect(first!.filter(isOutboxPut)[0]!.data.records.map((r) => r.type)).toEqual(['request']);
    const marker = second!.filter(isOutboxPut)[0]!.data.records;
    expect(marker).toMatchObject([
      { type: 'system', operation: AUDIT_CHANGE, requestId: 'req-2', details: { change: 1, ops: 2, atomic: true } },
    ]);
    const all = await items.outboxItems();
    // One shard holds every item of a request, in the order they were written.
    expect(new Set(all.map((item) => item.pk))).toEqual(new Set([outboxPartition(outboxShard('req-2', 4))]));
    expect(all.flatMap((item) => item.data.records.map((r) => r.type))).toEqual(['request', 'system', 'response']);
  });

  it('writes the records ahead of a change that already fills a whole transaction', async () => {
    const { items, outbox, store, sink } = scoped();
    const ops = Array.from({ length: MAX_TRANSACTION_OPS }, (_, i) => put(`k${String(i).padStart(3, '0')}`));
    await outbox.run('req-3', async () => {
      await sink.append(record('request', 'req-3'), { durable: true });
      await store.transact(ops);
    });
    expect(items.transactions).toHaveLength(2);
    expect(items.transactions[0]!.every(isOutboxPut)).toBe(true);
    expect(items.transactions[0]![0]).toMatchObject({
      data: { records: [{ type: 'request' }, { operation: AUDIT_CHANGE, details: { ops: 100, atomic: false } }] },
    });
    expect(items.transactions[1]).toHaveLength(MAX_TRANSACTION_OPS);
  });

  it('refuses a 100-operation change when its records cannot be written first', async () => {
    const { items, outbox, store } = scoped();
    items.failOutboxWrites = new Error('down');
    const ops = Array.from({ length: MAX_TRANSACTION_OPS }, (_, i) => put(`k${i}`));
    await expect(outbox.run('req-4', () => store.transact(ops))).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(await items.get('things', 'k0')).toBeUndefined();
  });

  it('refuses the change when its outbox key is already taken, applying nothing', async () => {
    const { items, clock, outbox, store } = scoped();
    const taken = outboxSortKey(clock.now(), 'req-8', 0);
    await items.transact([{ type: 'put', pk: outboxPartition(outboxShard('req-8', 4)), sk: taken, data: {} }]);
    await expect(outbox.run('req-8', () => store.transact([put('a')]))).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(await items.get('things', 'a')).toBeUndefined();
  });

  it('passes transactions through outside a request', async () => {
    const { items, store } = scoped();
    await store.transact([put('a')]);
    expect(items.transactions).toEqual([[put('a')]]);
  });
});

describe('Class: AuditOutbox', () => {
  it('fails the request scope when its last records cannot be written', async () => {
    const { items, outbox, sink } = scoped();
    items.failOutboxWrites = new Error('down');
    await expect(
      outbox.run('req-5', () => sink.append(record('request', 'req-5'), { durable: false })),
    ).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it('rejects a response record it cannot write, and drops it so a failure response replaces it', async () => {
    const { items, outbox, sink } = scoped();
    await outbox.run('req-6', async () => {
      await sink.append(record('request', 'req-6'), { durable: false });
      items.failOutboxWrites = new Error('down');
      await expect(
        sink.append(record('response', 'req-6', { status: 200 }), { durable: false }),
      ).rejects.toBeInstanceOf(AuditUnavailableError);
      items.failOutboxWrites = undefined;
      await sink.append(record('response', 'req-6', { status: 503 }), { durable: false });
    });
    expect((await items.outboxRecords()).map((r) => [r.type, r.status])).toEqual([
      ['request', undefined],
      ['response', 503],
    ]);
  });

  it('writes a record appended outside any request at once', async () => {
    const { items, sink } = scoped();
    await sink.append(record('system', 'boot'), { durable: true });
    expect((await items.outboxRecords()).map((r) => r.requestId)).toEqual(['boot']);
  });

  it('keeps sort keys time-ordered within a request even when the clock steps back', async () => {
    const { items, clock, outbox, store } = scoped();
    await outbox.run('req-7', async () => {
      await store.transact([put('a')]);
      clock.advance(-60_000);
      await store.transact([put('b')]);
    });
    const keys = (await items.outboxItems()).map((item) => item.sk);
    expect(keys).toHaveLength(2);
    expect([...keys].sort()).toEqual(keys);
    expect(keys[0]).toMatch(/^\d{15}#req-7#000000$/);
  });

  it('refuses a shard count out of range', () => {
    expect(() => new AuditOutbox({ store: new RecordingStore(), shards: 0 })).toThrow(ValidationError);
  });
});
