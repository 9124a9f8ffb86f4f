import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_POSTGRES_TIMEOUTS,
  type PostgresEndpoint,
  PostgresSessions,
} from '../../../../../lambdas/engines/shared/postgres/postgres-sessions.ts';
import { loopbackEgress } from '../../../../support/egress.ts';
import { startPostgres, type TestPostgres } from '../../../../support/postgres.ts';

let server: TestPostgres;
let endpoint: PostgresEndpoint;

beforeAll(async () => {
  server = await startPostgres();
  endpoint = {
    host: server.host,
    port: server.port,
    database: server.database,
    user: server.adminUser,
    password: server.adminPassword,
  };
});
afterAll(async () => {
  await server?.stop();
});

describe('PostgresSessions', () => {
  it('bounds every session: a statement longer than the statement timeout is cancelled by the server', async () => {
    const sessions = new PostgresSessions({ timeouts: { statementMs: 200 } });
    try {
      const client = await sessions.client(loopbackEgress(), endpoint, 'test');
      await client.connect();
      try {
        const shown = await client.query<{ statement_timeout: string; lock_timeout: string }>(
          "SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout",
        );
        expect(shown.rows[0]).toEqual({
          statement_timeout: '200ms',
          lock_timeout: `${DEFAULT_POSTGRES_TIMEOUTS.lockMs / 1000}s`,
        });
        await expect(client.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
      } finally {
        await client.end();
      }
      // Pooled sessions carry the same bounds.
      const pool = await sessions.pool(loopbackEgress(), endpoint, 'test', { max: 2 });
      await expect(pool.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await sessions.close();
    }
  });

  it('keeps one pool per endpoint and credential, and a fresh one when the credential changes', async () => {
    const sessions = new PostgresSessions();
    const egress = loopbackEgress();
    try {
      const first = await sessions.pool(egress, endpoint, 'test', { max: 2 });
      expect(await sessions.pool(egress, endpoint, 'test', { max: 2 })).toBe(first);
      expect(await sessions.pool(egress, { ...endpoint, password: 'rotated' }, 'test', { max: 2 })).not.toBe(first);
      // A pool made under another egress guard is never reused.
      expect(await sessions.pool(loopbackEgress(), endpoint, 'test', { max: 2 })).not.toBe(first);
      expect((await first.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await sessions.close();
    }
  });

  it('ends the least recently used pool beyond its limit, and every pool when closed', async () => {
    const sessions = new PostgresSessions({ maxPools: 2 });
    const egress = loopbackEgress();
    const a = await sessions.pool(egress, { ...endpoint, password: 'a' }, 'test', { max: 1 });
    await sessions.pool(egress, { ...endpoint, password: 'b' }, 'test', { max: 1 });
    await sessions.pool(egress, { ...endpoint, password: 'a' }, 'test', { max: 1 });
    await sessions.pool(egress, { ...endpoint, password: 'c' }, 'test', { max: 1 });
    expect(sessions.poolCount).toBe(2);
    // 'b' was the least recently used: 'a' is still the same pool.
    expect(await sessions.pool(egress, { ...endpoint, password: 'a' }, 'test', { max: 1 })).toBe(a);
    const live = await sessions.pool(egress, endpoint, 'test', { max: 1 });
    await live.query('SELECT 1');
    await sessions.close();
    expect(sessions.poolCount).toBe(0);
    expect(live.ended).toBe(true);
    await expect(sessions.pool(egress, endpoint, 'test', { max: 1 })).rejects.toThrow(/after calling end/);
  });
});
