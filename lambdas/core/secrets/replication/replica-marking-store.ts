import type { ItemData, Store, WriteOp } from '../../ports/store.ts';
import type { ReplicaRecord, SecretRecord } from '../secret-types.ts';

/** Told after a write to a replicated primary committed: its replicas have work to do. */
export type ReplicatedWriteHook = (name: string) => void;

/**
 * The store as a region's `SecretService` sees it: every put of a primary's record that has replicas marks them all
 * `InProgress`, inside the same transaction as the change itself. So whatever the write (a value, labels, tags, a
 * description, a policy, and any write path added later), a crash between the commit and the replication leaves the
 * primary saying which replicas are behind, and `SecretReplicator.reconcile` resumes from there. After the commit,
 * `onWrite` hears the name, so an in-process runner replicates at once.
 *
 * The replicator writes through the undecorated store: its `InSync` must not be turned back into `InProgress`.
 */
export function markingReplicasStale(
  store: Store,
  secretsPartition: string,
  onWrite?: ReplicatedWriteHook,
  region?: string,
): Store {
  return {
    get: (pk, sk) => store.get(pk, sk),
    query: (pk, options) => store.query(pk, options),
    close: () => store.close(),
    async transact(ops: readonly WriteOp[]): Promise<void> {
      const replicated: string[] = [];
      const marked = ops.map((op) => {
        if (op.type !== 'put' || op.pk !== secretsPartition || !hasReplicas(op.data)) return op;
        replicated.push(op.sk);
        const data: SecretRecord = { ...op.data, replicas: op.data.replicas.map(staleReplica) };
        return { ...op, data };
      });
      // A region's first secret makes the region known, in the transaction that creates it (see `regionMarker`).
      const creates = ops.some(
        (op) => op.type === 'put' && op.pk === secretsPartition && op.condition?.kind === 'absent',
      );
      await store.transact(region !== undefined && creates ? [...marked, regionMarker(region)] : marked);
      for (const name of replicated) onWrite?.(name);
    },
  };
}

/**
 * The regions that hold (or held) secrets besides the home region, one item each: what the sweeps that must visit
 * every region (purging expired secrets, re-wrapping data keys under a new root key) walk, since the store cannot list
 * its partitions.
 */
export const SECRET_REGIONS_PARTITION = 'secret-regions';

export function regionMarker(region: string): WriteOp {
  return { type: 'put', pk: SECRET_REGIONS_PARTITION, sk: region, data: { region } };
}

function hasReplicas(data: ItemData): data is SecretRecord & { replicas: ReplicaRecord[] } {
  return Array.isArray(data.replicas) && data.replicas.length > 0;
}

/**
 * A replica a new write leaves behind. A replica that failed for good (its region holds another secret of the name)
 * is tried again by the next write.
 */
function staleReplica(replica: ReplicaRecord): ReplicaRecord {
  const { statusMessage: _message, permanent: _permanent, ...rest } = replica;
  return { ...rest, status: 'InProgress' };
}
