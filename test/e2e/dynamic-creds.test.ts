import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canLogin, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { api, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { waitFor } from '../support/wait-for.ts';

const LEASE_ENV = {
  COFFER_LEASE_SWEEP_INTERVAL_MS: '100',
  COFFER_LEASE_RETRY_BASE_MS: '200',
  COFFER_LEASE_RETRY_MAX_MS: '1000',
};

/** Polls until `check` holds; the test's own timeout bounds the wait. */
// Each probe is an API call or a query; the waits are for the sweeper and the revocation retries, bounded by the test.
const POLL = { intervalMs: 100, timeoutMs: 60_000 };

let pgServer: TestPostgres;
let server: ServerProcess;
let cleanup: () => void;
let env: Record<string, string>;

const cli = (args: string[], input?: string) => runCli(args, { env, input });

type Issued = { username: string; password: string; leaseId: string; leaseDuration: number };

/** Set-up and polling go through the API (each CLI run starts a process); the behaviour under test uses the CLI. */
async function configure(role: string, body: Record<string, unknown> = {}) {
  const put = await api(server.address, server.rootToken, 'PUT', `/v1/database/roles/${role}`, {
    db_name: 'main',
    ...body,
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
}

async function issue(role: string): Promise<Issued> {
  const out = await api(server.address, server.rootToken, 'GET', `/v1/database/creds/${role}`);
  expect(out.status, JSON.stringify(out.body)).toBe(200);
  return out.body as unknown as Issued;
}

async function listLeases(query = '') {
  const out = await api(server.address, server.rootToken, 'GET', `/v1/sys/leases${query}`);
  expect(out.status).toBe(200);
  return (out.body as { leases: { leaseId: string; attempts: number; lastError?: string }[] }).leases;
}

beforeAll(async () => {
  pgServer = await startPostgres();
  const tmp = tempDir();
  cleanup = tmp.cleanup;
  server = await startServer(path.join(tmp.dir, 'data'), LEASE_ENV);
  env = { COFFER_ADDR: server.address, COFFER_TOKEN: server.rootToken };
  const admin = JSON.stringify({ username: pgServer.adminUser, password: pgServer.adminPassword });
  expect((await cli(['secret', 'put', 'db/admin'], admin)).code).toBe(0);
  const config = await cli([
    'db',
    'config',
    'put',
    'main',
    '--host',
    pgServer.host,
    '--port',
    String(pgServer.port),
    '--database',
    pgServer.database,
    '--admin-secret',
    'db/admin',
  ]);
  expect(config.code, config.stderr).toBe(0);
  const role = await cli(['db', 'role', 'put', 'app', '--db', 'main', '--default-ttl', '1h', '--max-ttl', '2h']);
  expect(role.code, role.stderr).toBe(0);
});

afterAll(async () => {
  await server?.stop();
  await pgServer?.stop();
  cleanup?.();
});

describe('coffer creds / lease against a real server and a real PostgreSQL', () => {
  it('issues with `creds get db/<role>`, lists, renews and revokes with `lease`', async () => {
    const out = await cli(['creds', 'get', 'db/app', '-o', 'json']);
    expect(out.code, out.stderr).toBe(0);
    const creds = JSON.parse(out.stdout) as Issued;
    expect(creds.leaseId).toMatch(/^database\/creds\/app\//);
    expect(creds.leaseDuration).toBeGreaterThan(3500);
    expect(await canLogin(pgServer, creds.username, creds.password)).toBe(true);

    const table = await cli(['lease', 'list', '--prefix', 'database/creds/app/']);
    expect(table.stdout).toContain(creds.leaseId);

    const renewed = await cli(['lease', 'renew', creds.leaseId, '--increment', '10m']);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(renewed.stdout).toMatch(/lease_duration\s+(599|600)s/);

    const revoked = await cli(['lease', 'revoke', creds.leaseId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await canLogin(pgServer, creds.username, creds.password)).toBe(false);
    expect((await listLeases()).map((l) => l.leaseId)).not.toContain(creds.leaseId);
  });

  it('the sweeper revokes at expiry: login fails once the TTL has passed', async () => {
    await configure('short', { default_ttl: '2s', max_ttl: '2s' });
    const creds = await issue('short');
    expect(await canLogin(pgServer, creds.username, creds.password)).toBe(true);
    await waitFor(
      'the sweeper to revoke the expired leases',
      async () => (await listLeases('?prefix=database/creds/short/')).length === 0,
      POLL,
    );
    expect(await canLogin(pgServer, creds.username, creds.password)).toBe(false);
  });

  it('`lease revoke --prefix` revokes a subtree', async () => {
    await configure('batch');
    const issued = [await issue('batch'), await issue('batch'), await issue('batch')];
    const keep = await issue('app');
    const out = await cli(['lease', 'revoke', '--prefix', 'database/creds/batch/']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('revoked 3');
    for (const c of issued) expect(await canLogin(pgServer, c.username, c.password)).toBe(false);
    expect(await canLogin(pgServer, keep.username, keep.password)).toBe(true);
  });

  it('refuses issue beyond the role quota with a clear message', async () => {
    await configure('one', { max_leases: 1 });
    await issue('one');
    const refused = await cli(['creds', 'get', 'db/one']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('already has 1 live leases, its limit of 1');
  });

  it('shows a failed revocation in `lease list --failed`, then completes it when the target is back', async () => {
    const creds = await issue('app');
    await pgServer.pause();
    try {
      const revoke = await cli(['lease', 'revoke', creds.leaseId]);
      expect(revoke.code, revoke.stderr).toBe(0);
      expect(revoke.stderr).toContain('will be retried');
      await waitFor(
        'a second failed revocation',
        async () => (await listLeases('?failed=true')).some((l) => l.attempts >= 2),
        POLL,
      );
      const table = await cli(['lease', 'list', '--failed']);
      expect(table.stdout).toContain(creds.leaseId);
      expect(table.stdout).toContain('cannot connect to database main');
      expect(table.stdout).not.toContain(pgServer.adminPassword);
      expect(table.stdout).not.toContain(creds.password);
    } finally {
      await pgServer.resume();
    }
    await waitFor(
      'the retried revocation to succeed',
      async () => (await listLeases('?failed=true')).length === 0,
      POLL,
    );
    expect(await canLogin(pgServer, creds.username, creds.password)).toBe(false);
  });
});

describe('Policy on dynamic credentials and leases', () => {
  it('needs the role path to issue, its own lease path to revoke, and sudo to revoke a prefix', async () => {
    const root = (method: string, url: string, body?: unknown) =>
      api(server.address, server.rootToken, method, url, body);
    const rules = [
      { path: 'database/creds/app', capabilities: ['read'] },
      { path: 'sys/leases/revoke/database/creds/app/*', capabilities: ['update'] },
      { path: 'sys/leases/revoke-prefix/database/creds/app', capabilities: ['update'] },
    ];
    expect((await root('PUT', '/v1/sys/policies/app-user', { rules })).status).toBe(200);
    const created = await root('POST', '/v1/auth/token/create', { policies: ['app-user'] });
    expect(created.status).toBe(201);
    const user = (method: string, url: string, body?: unknown) =>
      api(server.address, String(created.body.token), method, url, body);

    const issued = await user('GET', '/v1/database/creds/app');
    expect(issued.status).toBe(200);
    expect((await user('GET', '/v1/database/creds/batch')).status).toBe(403);
    expect((await user('POST', '/v1/database/creds/app', {})).status).toBe(403);
    expect((await user('PUT', '/v1/database/roles/app', { db_name: 'main' })).status).toBe(403);
    expect((await user('GET', '/v1/sys/leases')).status).toBe(403);
    expect((await user('POST', '/v1/sys/leases/revoke-prefix', { prefix: 'database/creds/app/' })).status).toBe(403);
    const revoked = await user('POST', '/v1/sys/leases/revoke', { leaseId: issued.body.leaseId });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ revoked: true });
  });
});

describe('A revoke interrupted by a crash', () => {
  it('is completed when the server restarts (SIGKILL while the target is revoking)', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    let node = await startServer(dataDir, LEASE_ENV);
    try {
      const call = (method: string, url: string, body?: unknown) =>
        api(node.address, node.rootToken, method, url, body);
      const admin = JSON.stringify({ username: pgServer.adminUser, password: pgServer.adminPassword });
      expect((await call('PUT', '/v1/secret/data/db/admin', { value: admin })).status).toBe(200);
      const config = {
        host: pgServer.host,
        port: pgServer.port,
        database: pgServer.database,
        admin_secret: 'db/admin',
      };
      expect((await call('PUT', '/v1/database/config/main', config)).status).toBe(200);
      const role = {
        db_name: 'main',
        username_template: 'v_crash_{{random:8}}',
        revocation_statements: ['SELECT pg_sleep(4)', 'DROP ROLE IF EXISTS {{name}}'],
      };
      expect((await call('PUT', '/v1/database/roles/slow', role)).status).toBe(200);
      const issued = await call('GET', '/v1/database/creds/slow');
      expect(issued.status).toBe(200);
      const { leaseId, username, password } = issued.body as { leaseId: string; username: string; password: string };

      void call('POST', '/v1/sys/leases/revoke', { leaseId }).catch(() => {});
      const watcher = await pgServer.adminClient();
      await waitFor(
        'the revocation to run at the database',
        async () =>
          ((
            await watcher.query(
              "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(4)%' AND state = 'active'",
            )
          ).rowCount ?? 0) > 0,
        POLL,
      );
      await node.stop('SIGKILL');
      // The crash came before the DROP: the user still exists and can log in.
      expect(await canLogin(pgServer, username, password)).toBe(true);
      await watcher.end();

      node = await startServer(dataDir, LEASE_ENV);
      await waitFor('the user to be dropped', async () => !(await canLogin(pgServer, username, password)), POLL);
      const lookup = () => api(node.address, node.rootToken, 'POST', '/v1/sys/leases/lookup', { leaseId });
      await waitFor('the lease to be gone', async () => (await lookup()).status === 404, POLL);
      expect((await lookup()).body.error?.code).toBe('not_found');
    } finally {
      await node.stop();
      tmp.cleanup();
    }
  });
});
