import { checkRegion } from '../../regions.ts';
import type { ReplicaAvailability } from './secret-replicator.ts';

/**
 * Replica regions made unreachable on purpose (`COFFER_FAULT_INJECTION=1`, root's `sys/replication/faults`), so
 * that a down replica is testable end to end: while a region is down the replicator records its replicas `Failed`
 * with `unavailableMessage`, copies nothing there and loses nothing; once it is back, the runner's retries bring them
 * `InSync` with the primary's latest state. Process memory only: a restart brings every region back.
 */
export class ReplicaFaults {
  private readonly down = new Set<string>();

  /** Marks `region` down or back up; returns the regions down now. */
  set(region: string, down: boolean): string[] {
    checkRegion(region);
    if (down) this.down.add(region);
    else this.down.delete(region);
    return this.regionsDown();
  }

  regionsDown(): string[] {
    return [...this.down].sort();
  }

  readonly availability: ReplicaAvailability = (region) =>
    this.down.has(region) ? unavailableMessage(region) : undefined;
}

/** Coffer's status message for a replica whose region cannot be reached. */
export function unavailableMessage(region: string): string {
  return `Replication failed: region ${region} is unavailable. Coffer retries until it is back.`;
}
