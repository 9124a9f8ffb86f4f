import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { LimitExceededError, ValidationError } from '../../../lambdas/core/errors.ts';
import { LeaseService } from '../../../lambdas/core/leases/lease-service.ts';
import type { ProviderRegistry } from '../../../lambdas/core/leases/lease-types.ts';
import { SecretService } from '../../../lambdas/core/secrets/secret-service.ts';
import { DatabaseEngine } from '../../../lambdas/engines/database/database-engine.ts';
import type { DbRoleInput } from '../../../lambdas/engines/database/database-types.ts';
import { PostgresPlugin } from '../../../lambdas/engines/database/postgres/postgres-plugin.ts';
import { PostgresSessions } from '../../../lambdas/engines/shared/postgres/postgres-sessions.ts';
import { loopbackEgress } from '../../support/egress.ts';

const sessions = new PostgresSessions();
const TEST_CONNECTION_GRANT = { grantedBy: { type: 'token', id: 'test', displayName: 'test' }, requestId: 'test' };

import { FakeKeyProvider } from '../../support/fake-key-provider.ts';
import { canLogin, startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { unusedAwsProvider, unusedOAuthProvider, unusedSshProvider } from '../../unit/core/leases/fake-provider.ts';

/** Real time plus an offset the tests move forward, so VALID UNTIL at the server stays meaningful. */
class OffsetClock {
  offset = 0;
  now() {
    return Date.now() + this.offset;
  }
}

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
  const admin = await server.adminClient();
  // A role named "admin": the canary that injection attempts would try to drop.
  await admin.query('CREATE ROLE admin NOLOGIN');
  await admin.end();
});

afterAll(async () => {
  await sessions.close();
  await server?.stop();
});

async function setup(options: { maxLeasesPerRole?: number; maxLeasesPerPrincipal?: number } = {}) {
  const store = new MemoryStore();
  const clock = new OffsetClock();
  const secrets = new SecretService({ store, keyProvider: new FakeKeyProvider(), clock });
  await secrets.create({
    name: 'db/admin',
    value: { kind: 'string', string: JSON.stringify({ username: server.adminUser, password: server.adminPassword }) },
  });
  const plugin = new PostgresPlugin(loopbackEgress(), sessions);
  const database = new DatabaseEngine({ store, clock, secrets, plugin });
  await database.putConfig(
    'main',
    {
      host: server.host,
      port: server.port,
      database: server.database,
      admin_secret: 'db/admin',
      connect_timeout_ms: 2000,
    },
    TEST_CONNECTION_GRANT,
  );
  const putRole = (name: string, role: Partial<DbRoleInput> = {}) =>
    database.putRole(name, { db_name: 'main', default_ttl: 60, max_ttl: 300, ...role });
  await putRole('app');
  const providers = {
    database,
    aws: unusedAwsProvider,
    ssh: unusedSshProvider,
    oauth: unusedOAuthProvider,
  } satisfies ProviderRegistry;
  const leases = new LeaseService({ store, clock, providers, retryBaseMs: 1000, ...options });
  const issue = (role = 'app', principalId = 'alice', ttlSeconds?: number) =>
    leases.issue({ kind: 'database', role, principalId, ttlSeconds });
  return { store, clock, secrets, database, leases, issue, putRole, close: () => plugin.close() };
}

async function roleExists(name: string): Promise<boolean> {
  const admin = await server.adminClient();
  try {
    return (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

describe('Dynamic PostgreSQL credentials (real PostgreSQL)', () => {
  it('issues a user that can log in while the lease is live, and not after revoke', async () => {
    const t = await setup();
    try {
      const { lease, credential } = await t.issue();
      expect(credential.username).toMatch(/^v_app_[a-z0-9]{8}$/);
      expect(credential.password).toHaveLength(32);
      expect(await canLogin(server, credential.username, credential.password)).toBe(true);
      expect(await t.leases.revoke(lease.leaseId)).toMatchObject({ revoked: true });
      expect(await canLogin(server, credential.username, credential.password)).toBe(false);
      expect(await roleExists(credential.username)).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('revokes at expiry: the sweeper drops the user once the TTL has passed', async () => {
    const t = await setup();
    try {
      const { credential } = await t.issue('app', 'alice', 5);
      const live = await t.issue('app', 'alice', 120);
      await t.leases.sweep();
      expect(await canLogin(server, credential.username, credential.password)).toBe(true);
      t.clock.offset += 6000;
      expect((await t.leases.sweep()).revoked).toBe(1);
      expect(await canLogin(server, credential.username, credential.password)).toBe(false);
      expect(await canLogin(server, live.credential.username, live.credential.password)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('renews from now, capped by the max TTL, and moves VALID UNTIL at the server', async () => {
    const t = await setup();
    try {
      const { lease, credential } = await t.issue('app', 'alice', 30);
      const renewed = await t.leases.renew(lease.leaseId, 120);
      expect(renewed.capped).toBe(false);
      const capped = await t.leases.renew(lease.leaseId, 10_000);
      expect(capped.expiresAt).toBe(lease.maxExpiresAt);
      expect(capped.capped).toBe(true);
      const admin = await server.adminClient();
      const row = await admin.query<{ until: Date }>('SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1', [
        credential.username,
      ]);
      await admin.end();
      expect(Math.abs(row.rows[0]!.until.getTime() - lease.maxExpiresAt)).toBeLessThan(1000);
      expect(await canLogin(server, credential.username, credential.password)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('revoke-prefix revokes a subtree and leaves other roles', async () => {
    const t = await setup();
    try {
      await t.putRole('reports');
      const a = [await t.issue('app'), await t.issue('app')];
      const other = await t.issue('reports');
      expect(await t.leases.revokePrefix('database/creds/app/')).toEqual({ revoked: 2, failed: 0 });
      for (const { credential } of a)
        expect(await canLogin(server, credential.username, credential.password)).toBe(false);
      expect(await canLogin(server, other.credential.username, other.credential.password)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('refuses issue beyond the role quota, without creating a user', async () => {
    const t = await setup();
    try {
      await t.putRole('small', { max_leases: 1 });
      await t.issue('small');
      const admin = await server.adminClient();
      const before = (await admin.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'v_small_%'"))
        .rows[0].n;
      await expect(t.issue('small')).rejects.toBeInstanceOf(LimitExceededError);
      const after = (await admin.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'v_small_%'"))
        .rows[0].n;
      await admin.end();
      expect(after).toBe(before);
    } finally {
      await t.close();
    }
  });

  it('keeps a failed revocation (target down) visible and retries it until the target is back', async () => {
    const t = await setup();
    try {
      const { lease, credential } = await t.issue();
      await server.pause();
      let outcome: Awaited<ReturnType<typeof t.leases.revoke>>;
      try {
        outcome = await t.leases.revoke(lease.leaseId);
        expect(outcome.revoked).toBe(false);
        t.clock.offset += 5000;
        await t.leases.sweep();
      } finally {
        await server.resume();
      }
      const failed = (await t.leases.list({ failed: true })).leases;
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ leaseId: lease.leaseId, state: 'revoking', attempts: 2 });
      expect(failed[0]!.lastError).toMatch(/cannot connect to database main/);
      expect(failed[0]!.lastError).not.toContain(server.adminPassword);
      expect(failed[0]!.lastError).not.toContain(credential.password);
      t.clock.offset += 60_000;
      expect((await t.leases.sweep()).revoked).toBe(1);
      expect((await t.leases.list({ failed: true })).leases).toEqual([]);
      expect(await canLogin(server, credential.username, credential.password)).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('default revocation ends open sessions and handles objects the user owns', async () => {
    const t = await setup();
    try {
      await t.putRole('owner', {
        creation_statements: [
          'CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}',
          'GRANT CREATE ON SCHEMA public TO {{name}}',
        ],
      });
      const { lease, credential } = await t.issue('owner');
      const session = new pg.Client({
        host: server.host,
        port: server.port,
        user: credential.username,
        password: credential.password,
        database: server.database,
      });
      const ended = new Promise<void>((resolve) => session.on('error', () => resolve()));
      await session.connect();
      const table = `t_${credential.username}`;
      await session.query(`CREATE TABLE ${pg.escapeIdentifier(table)} (id int)`);
      expect(await t.leases.revoke(lease.leaseId)).toMatchObject({ revoked: true });
      await ended;
      await session.end().catch(() => {});
      expect(await roleExists(credential.username)).toBe(false);
      const admin = await server.adminClient();
      const owner = await admin.query('SELECT tableowner FROM pg_tables WHERE tablename = $1', [table]);
      await admin.end();
      expect(owner.rows[0]).toEqual({ tableowner: server.adminUser });
    } finally {
      await t.close();
    }
  });

  it('runs the creation statements as one transaction: a failing one leaves no user, and the pool stays usable', async () => {
    const t = await setup();
    try {
      await t.putRole('broken', {
        creation_statements: [
          // A trailing comment must not swallow what the plugin adds after the statement.
          'CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}} -- the user',
          'GRANT SELECT ON no_such_table TO {{name}}',
        ],
      });
      await t.putRole('commented', {
        creation_statements: [
          'CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}} -- the user',
          'GRANT CONNECT ON DATABASE postgres TO {{name}} -- and its grant',
        ],
      });
      const admin = await server.adminClient();
      const count = async () =>
        (await admin.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'v_broken_%'")).rows[0].n;
      try {
        const before = await count();
        // More failures than the pool has sessions: each must have been rolled back before going back to the pool.
        for (let i = 0; i < 5; i++) await expect(t.issue('broken')).rejects.toThrow(/no_such_table/);
        expect(await count()).toBe(before);
      } finally {
        await admin.end();
      }
      const { credential } = await t.issue('commented');
      expect(await canLogin(server, credential.username, credential.password)).toBe(true);
    } finally {
      await t.close();
    }
  });

  describe('SQL injection', () => {
    it('quotes passwords full of quotes, backslashes and semicolons: login works, nothing else runs', async () => {
      const t = await setup();
      try {
        await t.putRole('quotes', {
          password_policy: {
            length: 40,
            min_lower: 1,
            min_upper: 1,
            min_digits: 1,
            min_symbols: 20,
            symbols: `'"\\;-`,
          },
        });
        for (let i = 0; i < 5; i++) {
          const { credential } = await t.issue('quotes');
          expect(credential.password).toMatch(/['"\\;]/);
          expect(await canLogin(server, credential.username, credential.password)).toBe(true);
        }
        expect(await roleExists('admin')).toBe(true);
      } finally {
        await t.close();
      }
    });

    it('refuses hostile role names and username templates before any SQL runs', async () => {
      const t = await setup();
      try {
        const hostile = 'x"; DROP ROLE admin; --';
        await expect(t.putRole(hostile)).rejects.toBeInstanceOf(ValidationError);
        await expect(t.putRole('ok', { username_template: hostile })).rejects.toBeInstanceOf(ValidationError);
        await expect(t.putRole('ok', { username_template: 'v_{{role}}_"{{random:4}}' })).rejects.toBeInstanceOf(
          ValidationError,
        );
        await expect(
          t.putRole('ok', { creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`] }),
        ).rejects.toThrow('without quotes');
        expect(await roleExists('admin')).toBe(true);
      } finally {
        await t.close();
      }
    });

    it('substitutes a hostile password as one literal at the server', async () => {
      const plugin = new PostgresPlugin(loopbackEgress(), sessions);
      try {
        const target = {
          name: 'main',
          config: {
            plugin: 'postgres' as const,
            host: server.host,
            port: server.port,
            database: server.database,
            admin_secret: 'x',
            allowed_roles: ['*'],
            ssl: false,
            max_connections: 1,
            connect_timeout_ms: 2000,
          },
          admin: { username: server.adminUser, password: server.adminPassword },
          credentialVersion: '1',
        };
        const password = `p'); DROP ROLE admin; --\\'"`;
        await plugin.createUser(
          target,
          ['CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}'],
          {
            name: 'v_hostile_pw',
            password,
            expiration: new Date(Date.now() + 60_000).toISOString(),
          },
        );
        expect(await canLogin(server, 'v_hostile_pw', password)).toBe(true);
        expect(await roleExists('admin')).toBe(true);
        await expect(
          plugin.createUser(target, ['CREATE ROLE {{name}} LOGIN'], {
            name: 'x"; DROP ROLE admin; --',
            password: 'irrelevant',
            expiration: new Date().toISOString(),
          }),
        ).rejects.toThrow('invalid role name');
        await plugin.revokeUser(target, [], 'v_hostile_pw');
        expect(await roleExists('v_hostile_pw')).toBe(false);
        expect(await roleExists('admin')).toBe(true);
      } finally {
        await plugin.close();
      }
    });
  });
});
