/**
 * Replication lag on the local node: how long after a write to a primary its replicas serve the new version. The
 * node is the real one (`openLocalNode`: SQLite store with group commit and fsync, file keyring, audit file, the
 * in-process replication runner), called in process: each write goes through the region's `SecretService`, and each
 * replica is polled through its own region's `SecretService` until it serves the new version id.
 *
 * Lag is measured from the write's acknowledgement to the moment the second of two replicas serves the version (the
 * issue's goal: p99 at most 1 s). The baseline, measured in the same run, is a plain PutSecretValue to a secret
 * without replicas; the replicated writes' own latency is shown beside it (they mark the replicas in the same
 * transaction, so they should cost no more).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initialise, openLocalNode } from '../lambdas/entrypoints/local/compose.ts';
import { loadLocalConfig } from '../lambdas/entrypoints/local/config.ts';
import { percentile } from './measure.ts';

export interface Figures {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface ReplicationLagResult {
  readonly writes: number;
  readonly baselinePut: Figures;
  readonly replicatedPut: Figures;
  readonly lag: Figures;
}

function figures(samples: number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? 0,
  };
}

const REPLICAS = ['us-west-2', 'eu-west-1'];

export async function benchReplicationLag(
  options: { writes?: number; secrets?: number } = {},
): Promise<ReplicationLagResult> {
  const writes = options.writes ?? 500;
  const secretCount = options.secrets ?? 20;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-replication-'));
  try {
    const config = loadLocalConfig(
      {},
      { dataDir: dir, passphrase: 'replication-bench', secretWriteRate: 100_000, maxDeprecatedVersions: 10_000 },
    );
    await initialise(config);
    const node = await openLocalNode(config);
    try {
      const { regionalSecrets, replication } = node.deps;
      const home = regionalSecrets.home;
      const plain = Array.from({ length: secretCount }, (_, i) => `bench/plain-${i}`);
      const replicated = Array.from({ length: secretCount }, (_, i) => `bench/replicated-${i}`);
      for (const name of [...plain, ...replicated])
        await home.create({ name, value: { kind: 'string', string: 'v0' } });
      for (const name of replicated) {
        await replication.addReplicas({
          region: regionalSecrets.homeRegion,
          secretId: name,
          replicas: REPLICAS.map((region) => ({ region })),
        });
      }
      await node.replicationRunner.idle();

      const baseline: number[] = [];
      for (let i = 0; i < writes; i++) {
        const t0 = performance.now();
        await home.put({ secretId: plain[i % secretCount]!, value: { kind: 'string', string: `v${i + 1}` } });
        baseline.push(performance.now() - t0);
      }

      const putLatency: number[] = [];
      const lag: number[] = [];
      for (let i = 0; i < writes; i++) {
        const name = replicated[i % secretCount]!;
        const t0 = performance.now();
        const { versionId } = await home.put({ secretId: name, value: { kind: 'string', string: `v${i + 1}` } });
        const acknowledged = performance.now();
        putLatency.push(acknowledged - t0);
        for (const region of REPLICAS) {
          const replica = regionalSecrets.in(region);
          // Polled as a client would, yielding to the event loop (and so to the runner) between reads.
          for (;;) {
            const read = await replica.get({ secretId: name }).catch(() => undefined);
            if (read?.versionId === versionId) break;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        lag.push(performance.now() - acknowledged);
      }
      return { writes, baselinePut: figures(baseline), replicatedPut: figures(putLatency), lag: figures(lag) };
    } finally {
      await node.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const writes = Number(process.env.COFFER_BENCH_REPLICATED_WRITES ?? 500);
  const result = await benchReplicationLag({ writes });
  const base = result.baselinePut.p50Ms;
  const row = (label: string, f: Figures) =>
    `${label.padEnd(44)} p50 ${f.p50Ms.toFixed(2).padStart(7)} ms  p95 ${f.p95Ms.toFixed(2).padStart(7)} ms  ` +
    `p99 ${f.p99Ms.toFixed(2).padStart(7)} ms  max ${f.maxMs.toFixed(2).padStart(7)} ms  ` +
    `(p50 ${(f.p50Ms / base).toFixed(2)}× / p99 ${(f.p99Ms / base).toFixed(2)}× baseline p50)`;
  console.log(`${result.writes} writes, 2 replica regions each; goal: lag p99 <= 1000 ms`);
  console.log(row('baseline: PutSecretValue, no replicas', result.baselinePut));
  console.log(row('PutSecretValue to a primary with 2 replicas', result.replicatedPut));
  console.log(row('lag: acknowledged → both replicas serve it', result.lag));
}
