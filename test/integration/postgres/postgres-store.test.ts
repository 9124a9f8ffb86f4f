import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, SCHEMA_VERSION } from '../../../lambdas/adapters/postgres/store/postgres-store.ts';
import { StorageUnavailableError } from '../../../lambdas/core/errors.ts';
import { ConditionFailedError, type WriteOp } from '../../../lambdas/core/ports/store.ts';
import { describeStoreContract } from '../../contract/store.contract.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
});

const urlOf = (pgServer: TestPostgres, password?: string) =>
  `postgres://${pgServer.adminUser}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@${pgServer.host}:${pgServer.port}/${pgServer.database}`;

/** A node's store: its own pool on the one shared server, as each Coffer node opens it. */
const node = () => PostgresStore.open({ url: urlOf(server), password: server.adminPassword, retryDelayMs: () => 0 });

describeStoreContract('PostgresStore', async () => ({ store: await node() }));

describe('Class: PostgresStore', () => {
  it('lets exactly one of many concurrent absent-writers on two nodes win each item', async () => {
    const [a, b] = [await node(), await node()];
    try {
      const pk = `race-${crypto.randomUUID()}`;
      const items = 20;
      const writers = Array.from({ length: items * 6 }, (_, i) => ({ store: i % 2 === 0 ? a : b, item: i % items, i }));
      const results = await Promise.allSettled(
        writers.map(({ store, item, i }) =>
          store.transact([{ type: 'put', pk, sk: `k${item}`, data: { writer: i }, condition: { kind: 'absent' } }]),
        ),
      );
      for (let item = 0; item < items; item++) {
        const mine = writers.filter((w) => w.item === item).map((w) => ({ w, result: results[w.i]! }));
        const winners = mine.filter(({ result }) => result.status === 'fulfilled');
        expect({ item, winners: winners.length }).toEqual({ item, winners: 1 });
        for (const { result } of mine) {
          if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(ConditionFailedError);
        }
        const stored = await (item % 2 === 0 ? a : b).get(pk, `k${item}`);
        expect(stored).toMatchObject({ rev: 1, data: { writer: winners[0]!.w.i } });
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('loses no increment when two nodes read-modify-write one counter with rev conditions', async () => {
    const [a, b] = [await node(), await node()];
    try {
      const pk = `counter-${crypto.randomUUID()}`;
      await a.transact([{ type: 'put', pk, sk: 'n', data: { n: 0 }, condition: { kind: 'absent' } }]);
      const increment = async (store: PostgresStore) => {
        for (;;) {
          const current = (await store.get<{ n: number }>(pk, 'n'))!;
          try {
            await store.transact([
              {
                type: 'put',
                pk,
                sk: 'n',
                data: { n: current.data.n + 1 },
                condition: { kind: 'rev', rev: current.rev },
              },
            ]);
            return;
          } catch (error) {
            if (!(error instanceof ConditionFailedError)) throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: 40 }, (_, i) => increment(i % 2 === 0 ? a : b)));
      expect(await b.get(pk, 'n')).toMatchObject({ rev: 41, data: { n: 40 } });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps a multi-item transaction whole against another node checking its items', async () => {
    const [a, b] = [await node(), await node()];
    try {
      const pk = `pair-${crypto.randomUUID()}`;
      // Each writer moves a token from one side to the other only if its own side holds it: both sides never hold it.
      await a.transact([
        { type: 'put', pk, sk: 'left', data: { holds: true } },
        { type: 'put', pk, sk: 'right', data: { holds: false } },
      ]);
      const move = async (store: PostgresStore, from: string, to: string) => {
        const source = await store.get<{ holds: boolean }>(pk, from);
        const target = await store.get<{ holds: boolean }>(pk, to);
        if (!source?.data.holds) return;
        const ops: WriteOp[] = [
          { type: 'put', pk, sk: from, data: { holds: false }, condition: { kind: 'rev', rev: source.rev } },
          { type: 'put', pk, sk: to, data: { holds: true }, condition: { kind: 'rev', rev: target!.rev } },
        ];
        await store.transact(ops).catch((error: unknown) => {
          if (!(error instanceof ConditionFailedError)) throw error;
        });
      };
      await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? move(a, 'left', 'right') : move(b, 'right', 'left'))),
      );
      const left = (await a.get<{ holds: boolean }>(pk, 'left'))!;
      const right = (await a.get<{ holds: boolean }>(pk, 'right'))!;
      expect([left.data.holds, right.data.holds].filter(Boolean)).toHaveLength(1);
      // Every committed move wrote both items once: their revisions moved together.
      expect(left.rev).toBe(right.rev);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('creates its schema once when several nodes open an empty database together, recording the version', async () => {
    const admin = await server.adminClient();
    try {
      await admin.query('CREATE DATABASE coffer_fresh');
    } finally {
      await admin.end();
    }
    const url = urlOf(server).replace(/\/[^/]+$/, '/coffer_fresh');
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStore.open({ url, password: server.adminPassword })),
    );
    try {
      await stores[0]!.transact([{ type: 'put', pk: 'p', sk: 'k', data: { v: 1 } }]);
      expect(await stores[3]!.get('p', 'k')).toMatchObject({ rev: 1 });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
    const check = new pg.Client({
      connectionString: urlOf(server, server.adminPassword).replace(/\/[^/]+$/, '/coffer_fresh'),
    });
    await check.connect();
    try {
      const { rows } = await check.query('SELECT version FROM coffer_schema');
      expect(rows).toEqual([{ version: SCHEMA_VERSION }]);
    } finally {
      await check.end();
    }
  });

  it('refuses to open a store written by a newer schema', async () => {
    const admin = await server.adminClient();
    try {
      await admin.query('CREATE DATABASE coffer_newer');
    } finally {
      await admin.end();
    }
    const url = urlOf(server).replace(/\/[^/]+$/, '/coffer_newer');
    await (await PostgresStore.open({ url, password: server.adminPassword })).close();
    const client = new pg.Client({
      connectionString: urlOf(server, server.adminPassword).replace(/\/[^/]+$/, '/coffer_newer'),
    });
    await client.connect();
    try {
      await client.query('UPDATE coffer_schema SET version = $1', [SCHEMA_VERSION + 1]);
    } finally {
      await client.end();
    }
    await expect(PostgresStore.open({ url, password: server.adminPassword })).rejects.toThrow(
      /schema is version 2, newer than this Coffer knows \(1\)/,
    );
  });

  it('answers 503-typed errors without the password when the server is unreachable, and serves again after', async () => {
    const password = server.adminPassword;
    const store = await node();
    try {
      await store.transact([{ type: 'put', pk: 'down', sk: 'before', data: {} }]);
      await server.pause();
      const write = store.transact([{ type: 'put', pk: 'down', sk: 'during', data: {} }]);
      await expect(write).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(write).rejects.toThrow(
        /PostgreSQL store is unavailable \(ECONNREFUSED\); nothing was read or written/,
      );
      const read = store.get('down', 'before');
      await expect(read).rejects.toBeInstanceOf(StorageUnavailableError);
      const message = await read.catch((error: Error) => `${error.message} ${String(error.cause)}`);
      expect(message).not.toContain(password);
      await server.resume();
      expect(await store.get('down', 'before')).toMatchObject({ rev: 1 });
      expect(await store.get('down', 'during')).toBeUndefined();
    } finally {
      await server.resume();
      await store.close();
    }
  });

  it('reads and writes on a fresh session when the server ended the pooled one (a restart, a failover)', async () => {
    const store = await PostgresStore.open({
      url: urlOf(server),
      password: server.adminPassword,
      maxConnections: 1,
      retryDelayMs: () => 0,
    });
    const admin = await server.adminClient();
    try {
      await store.transact([{ type: 'put', pk: 'ended', sk: 'k', data: { v: 1 } }]);
      const ended = async () => {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'coffer store' AND pid <> pg_backend_pid()`,
        );
        expect(rows.length).toBeGreaterThan(0);
      };
      await ended();
      expect(await store.get('ended', 'k')).toMatchObject({ rev: 1, data: { v: 1 } });
      await ended();
      await store.transact([{ type: 'put', pk: 'ended', sk: 'k', data: { v: 2 }, condition: { kind: 'rev', rev: 1 } }]);
      expect(await store.get('ended', 'k')).toMatchObject({ rev: 2, data: { v: 2 } });
    } finally {
      await admin.end();
      await store.close();
    }
  });

  it('refuses a password both in the URL and given apart, without echoing either', async () => {
    const open = PostgresStore.open({ url: urlOf(server, 'in-url-secret'), password: 'file-secret' });
    await expect(open).rejects.toThrow(/carries a password and another was given/);
    const message = await open.catch((error: Error) => error.message);
    expect(message).not.toMatch(/in-url-secret|file-secret/);
  });

  it('commits with synchronous_commit on, whatever the server default', async () => {
    const store = await node();
    try {
      const pool = (store as unknown as { pool: pg.Pool }).pool;
      const { rows } = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      // The test server runs with synchronous_commit=off for speed; every store session turns it back on.
      expect(rows[0]!.synchronous_commit).toBe('on');
    } finally {
      await store.close();
    }
  });
});
