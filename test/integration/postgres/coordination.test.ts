import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyring } from '../../../lambdas/adapters/local/keyring/file-keyring.ts';
import { PostgresStore } from '../../../lambdas/adapters/postgres/store/postgres-store.ts';
import { CLAIM_PARTITION, type ClaimRecord, StoreClaims } from '../../../lambdas/core/coordination/claims.ts';
import { LeaseService } from '../../../lambdas/core/leases/lease-service.ts';
import { openLocalNode } from '../../../lambdas/entrypoints/local/compose.ts';
import { type LocalConfig, loadLocalConfig } from '../../../lambdas/entrypoints/local/config.ts';
import { JOB_CLAIMS, NodeJobs } from '../../../lambdas/entrypoints/local/node-jobs.ts';
import { initialiseOrJoin } from '../../../lambdas/entrypoints/local/shared-store.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { FakeDatabaseProvider, fakeRegistry } from '../../unit/core/leases/fake-provider.ts';

let server: TestPostgres;
let databases = 0;
const opened: PostgresStore[] = [];

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await Promise.all(opened.map((store) => store.close()));
  await server?.stop();
});

/** An empty database of its own, and the URL of it. */
async function freshStoreUrl(): Promise<string> {
  const database = `coord_${++databases}`;
  const admin = await server.adminClient();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  return `postgres://${server.adminUser}@${server.host}:${server.port}/${database}`;
}

/** One store connection (pool) per node, as separate processes have. */
async function nodeStores(url: string, count: number): Promise<PostgresStore[]> {
  const stores: PostgresStore[] = [];
  for (let i = 0; i < count; i++) {
    const store = await PostgresStore.open({ url, password: server.adminPassword });
    opened.push(store);
    stores.push(store);
  }
  return stores;
}

function fakeClock() {
  let time = Date.UTC(2026, 11, 7, 12);
  return {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

describe('Coordination on a real PostgreSQL store shared by several nodes', () => {
  it('never lets two of five nodes racing hold one claim; an expired claim is taken over, not renewed by its old holder', async () => {
    const clock = fakeClock();
    const stores = await nodeStores(await freshStoreUrl(), 5);
    const claims = stores.map((store) => new StoreClaims({ store, clock }));
    for (let round = 0; round < 5; round++) {
      const name = `job-${round}`;
      const won = await Promise.all(claims.map((c) => c.claim(name, 30_000)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const holder = claims[won.indexOf(true)]!;
      clock.advance(30_000);
      const others = claims.filter((c) => c !== holder);
      const takeover = await Promise.all(others.map((c) => c.claim(name, 30_000)));
      expect(takeover.filter(Boolean)).toHaveLength(1);
      expect(await holder.renew(name, 30_000)).toBe(false);
    }
  });

  it('revokes each of 20 due leases once at the target when three nodes sweep at the same moment', async () => {
    const clock = fakeClock();
    const stores = await nodeStores(await freshStoreUrl(), 3);
    const db = new FakeDatabaseProvider();
    db.roles.set('app', { defaultTtlSeconds: 60, maxTtlSeconds: 300 });
    const nodes = stores.map((store) => {
      const claims = new StoreClaims({ store, clock });
      const leases = new LeaseService({ store, clock, providers: fakeRegistry(db), claims });
      const jobs = new NodeJobs({
        claims,
        clock,
        leases,
        expirySweep: { sweep: async () => undefined },
        purge: async () => 0,
        rotation: {
          rotateDue: async () => [],
          sweepRevocations: async () => ({ revoked: 0, failed: 0 }),
          interrupted: async () => [],
        },
        runner: { launch: async () => undefined, adopt: async () => false },
        intervals: { leaseSweepMs: 1000, expirySweepMs: 60_000, purgeMs: 60_000, rotationTickMs: 10_000 },
        onError: () => undefined,
      });
      return { leases, jobs };
    });
    const issued = [];
    for (let i = 0; i < 20; i++) {
      issued.push((await nodes[i % 3]!.leases.issue({ kind: 'database', role: 'app', principalId: `p${i}` })).lease);
    }
    db.onRevoke = () => new Promise((resolve) => setTimeout(resolve, 2));
    clock.advance(61_000);
    // Every node's timer fires at once, and node B's API revokes one lease meanwhile.
    await Promise.all([
      ...nodes.map((n) => n.jobs.leaseSweep.sweep()),
      nodes[1]!.leases.revoke(issued[7]!.leaseId).catch(() => undefined),
    ]);
    expect(db.revokeCalls).toBe(20);
    expect(db.users.size).toBe(0);
    expect((await nodes[2]!.leases.list()).leases).toEqual([]);
  });

  it('has composed nodes (openLocalNode) on a shared store coordinate their periodic jobs through claims in it', async () => {
    const url = await freshStoreUrl();
    const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-coord-'));
    try {
      await FileKeyring.init({ path: path.join(root, 'keyring.json') });
      const configs = ['a', 'b', 'c'].map(
        (name) =>
          loadLocalConfig(
            { PGPASSWORD: server.adminPassword },
            { dataDir: path.join(root, name), storeUrl: url, keyringFile: path.join(root, 'keyring.json'), port: 0 },
          ) as LocalConfig & { storeUrl: string },
      );
      await initialiseOrJoin(configs[0]!);
      const nodes = await Promise.all(configs.map((config) => openLocalNode(config)));
      try {
        // The deletion purge's timer fires on every node at once.
        await Promise.all(nodes.map((node) => node.purgeExpired()));
        const [store] = await nodeStores(url, 1);
        const claims = (await store!.query<ClaimRecord>(CLAIM_PARTITION)).items;
        const byJob = new Map(claims.map((item) => [item.sk, item.data.holder]));
        // A node alone on its store claims nothing (no I/O); these nodes coordinate through the shared store.
        for (const job of [JOB_CLAIMS.leaseSweep, JOB_CLAIMS.expirySweep, JOB_CLAIMS.purge]) {
          expect(byJob.get(job)).toMatch(/^[0-9a-f]{32}$/);
        }
      } finally {
        await Promise.all(nodes.map((node) => node.close()));
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
