import type { WriteOp } from '../../ports/store.ts';

/**
 * The primaries that have replicas, one item each (`<region>/<name>` → `{ region, name }`), written in the same
 * transaction that gives a primary its first replica and removed in the one that takes its last away. The replicator's
 * `reconcile` walks it instead of every region's secrets: after a crash it is where the unfinished work is found.
 */
export const REPLICATION_PARTITION = 'secret-replication';

export type ReplicatedPrimary = { region: string; name: string };

export function replicatedPrimaryKey(region: string, name: string): string {
  return `${region}/${name}`;
}

export function indexPrimary(region: string, name: string): WriteOp {
  const data: ReplicatedPrimary = { region, name };
  return { type: 'put', pk: REPLICATION_PARTITION, sk: replicatedPrimaryKey(region, name), data };
}

export function unindexPrimary(region: string, name: string): WriteOp {
  return { type: 'delete', pk: REPLICATION_PARTITION, sk: replicatedPrimaryKey(region, name) };
}
