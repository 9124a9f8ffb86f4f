import { backoffDelay, type RetryOptions } from '../../../core/retry.ts';
import type { ReconcileResult, ReplicationResult } from '../../../core/secrets/replication/secret-replicator.ts';

export interface LocalReplicationRunnerOptions {
  /** The replicator (`SecretReplicator`). */
  readonly replicator: {
    replicate(region: string, name: string): Promise<ReplicationResult>;
    reconcile(): Promise<ReconcileResult>;
  };
  /**
   * Waits between attempts at a primary whose replicas are still behind (a region down): full jitter, doubling up to
   * the cap, so a recovered region is caught up within about `maxDelayMs`. @default 25 ms doubling to 1 s
   */
  readonly retry?: Omit<RetryOptions, 'maxAttempts'> | undefined;
  /** Told of a failed attempt (names only, never values). @default none */
  readonly onError?: ((primary: string, error: unknown) => void) | undefined;
}

/**
 * The local node's replication: asynchronous and in process, as AWS replicates after the write is acknowledged.
 * `trigger` (called after every write to a replicated primary) queues the primary; one run per primary at a time, a
 * trigger during a run runs it again once more, and a primary left behind is retried with backoff until it is in
 * sync. `start` first reconciles what a crash left `InProgress`.
 *
 * @example
 * ```ts
 * const runner = new LocalReplicationRunner({ replicator });
 * regionalSecrets.onReplicatedWrite((region, name) => runner.trigger(region, name));
 * await runner.start();
 * ```
 */
export class LocalReplicationRunner {
  private readonly replicator: LocalReplicationRunnerOptions['replicator'];
  private readonly retry: Omit<RetryOptions, 'maxAttempts'>;
  private readonly onError: (primary: string, error: unknown) => void;
  /** Primaries being replicated, and whether another trigger came in meanwhile. */
  private readonly running = new Map<string, { again: boolean }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly attempts = new Map<string, number>();
  private readonly runs = new Set<Promise<void>>();
  private closed = false;

  constructor(options: LocalReplicationRunnerOptions) {
    this.replicator = options.replicator;
    this.retry = options.retry ?? { baseDelayMs: 25, maxDelayMs: 1000 };
    this.onError = options.onError ?? (() => undefined);
  }

  /** Reconciles every primary a previous run of the node left behind, then lets triggers run. */
  async start(): Promise<void> {
    try {
      const { behind } = await this.replicator.reconcile();
      for (const { region, name } of behind) this.later(region, name);
    } catch (err) {
      this.onError('reconcile', err);
    }
  }

  /** Replicates one primary soon (not within the caller's request). */
  trigger(region: string, name: string): void {
    if (this.closed) return;
    const key = `${region}/${name}`;
    const timer = this.timers.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    const run = this.running.get(key);
    if (run !== undefined) {
      run.again = true;
      return;
    }
    const state = { again: false };
    this.running.set(key, state);
    const done = (async () => {
      do {
        state.again = false;
        await this.attempt(region, name, key);
      } while (state.again && !this.closed);
      this.running.delete(key);
    })();
    this.runs.add(done);
    void done.finally(() => this.runs.delete(done));
  }

  /** Resolves once nothing is running (retries waiting on their timer are not waited for). */
  async idle(): Promise<void> {
    while (this.runs.size > 0) await Promise.all([...this.runs]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.idle();
  }

  private async attempt(region: string, name: string, key: string): Promise<void> {
    try {
      const { behind } = await this.replicator.replicate(region, name);
      if (behind.length === 0) {
        this.attempts.delete(key);
        return;
      }
    } catch (err) {
      this.onError(key, err);
    }
    this.later(region, name);
  }

  private later(region: string, name: string): void {
    if (this.closed) return;
    const key = `${region}/${name}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const wait = Math.max(
      this.retry.baseDelayMs,
      backoffDelay(attempt, { ...this.retry, maxAttempts: 0 }, Math.random),
    );
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.trigger(region, name);
    }, wait);
    timer.unref();
    this.timers.set(key, timer);
  }
}
