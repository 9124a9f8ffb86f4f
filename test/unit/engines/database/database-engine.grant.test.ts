import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../../../lambdas/adapters/memory/memory-audit-sink.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { AuditHasher } from '../../../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../../../lambdas/core/audit/audit-log.ts';
import { InvalidRequestError } from '../../../../lambdas/core/errors.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import { DatabaseEngine } from '../../../../lambdas/engines/database/database-engine.ts';
import { DB_CONFIG_PK } from '../../../../lambdas/engines/database/database-types.ts';
import type { DatabasePlugin, Target } from '../../../../lambdas/engines/database/postgres/postgres-plugin.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';

/** Records the targets it was asked to act on, instead of logging in anywhere. */
class RecordingPlugin implements DatabasePlugin {
  readonly targets: Target[] = [];
  async createUser(target: Target): Promise<void> {
    this.targets.push(target);
  }
  async revokeUser(): Promise<void> {}
  async renewUser(): Promise<void> {}
  async close(): Promise<void> {}
}

const GRANT = { grantedBy: { type: 'token', id: 'hmac-sha256:abc', displayName: 'dba' }, requestId: 'req-1' };

async function setup() {
  const store = new MemoryStore();
  const clock = { now: () => Date.now() };
  const sink = new MemoryAuditSink();
  const audit = new AuditLog({ sink, hasher: new AuditHasher(randomBytes(32)) });
  const secrets = new SecretService({ store, keyProvider: new FakeKeyProvider(), clock });
  await secrets.create({
    name: 'db/admin',
    value: { kind: 'string', string: JSON.stringify({ username: 'admin', password: 'admin-canary' }) },
  });
  const plugin = new RecordingPlugin();
  const engine = new DatabaseEngine({ store, clock, secrets, plugin, audit });
  return { store, sink, plugin, engine };
}

describe('Class: DatabaseEngine (connection grants)', () => {
  it('reads the admin credential only under the grant recorded with the config, and audits each read', async () => {
    const { engine, plugin, sink } = await setup();
    const stored = await engine.putConfig(
      'main',
      { host: 'db.test', database: 'app', admin_secret: 'db/admin' },
      GRANT,
    );
    expect(stored.grant).toMatchObject({ ...GRANT, adminSecret: 'db/admin' });
    await engine.putRole('app', { db_name: 'main' });
    await engine.issue('app', 60, Date.now() + 60_000);
    expect(plugin.targets).toHaveLength(1);
    const read = sink.records().find((r) => r.operation === 'database.read-admin-secret');
    expect(read).toMatchObject({
      path: 'secrets/db/admin',
      response: { config: 'main', grantedBy: GRANT.grantedBy, grantRequestId: 'req-1' },
    });
    expect(JSON.stringify(sink.records())).not.toContain('admin-canary');
  });

  it('refuses to read the admin credential of a config stored without a grant', async () => {
    const { engine, plugin, store } = await setup();
    await store.transact([
      {
        type: 'put',
        pk: DB_CONFIG_PK,
        sk: 'old',
        data: {
          host: 'db.test',
          database: 'app',
          admin_secret: 'db/admin',
          port: 5432,
          plugin: 'postgres',
          allowed_roles: ['*'],
          ssl: false,
          max_connections: 4,
          connect_timeout_ms: 5000,
        },
      },
    ]);
    await engine.putRole('app', { db_name: 'old' });
    await expect(engine.issue('app', 60, Date.now() + 60_000)).rejects.toThrow(InvalidRequestError);
    await expect(engine.issue('app', 60, Date.now() + 60_000)).rejects.toThrow(
      /no recorded grant for its admin_secret/,
    );
    expect(plugin.targets).toHaveLength(0);
  });
});
