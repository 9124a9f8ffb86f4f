/** Anything swept periodically: the lease service, and the expiry sweep of secrets and certificates. */
export interface Sweepable {
  sweep(): Promise<unknown>;
}

/**
 * The local runtime's expiry enforcement: runs `LeaseService.sweep` (or the expiry sweep's) every `intervalMs` (never two at once: the next
 * pass is scheduled when the previous one ends). On AWS a scheduled function calls `sweep` instead.
 *
 * @example
 * ```ts
 * const sweeper = new LeaseSweeper(leases, { intervalMs: 1000 });
 * sweeper.start();
 * await sweeper.stop();
 * ```
 */
export class LeaseSweeper {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly leases: Sweepable,
    private readonly options: {
      readonly intervalMs: number;
      /** Told about a pass that threw (e.g. the store is closing); the next pass still runs. */
      readonly onError?: (err: unknown) => void;
    },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // The first pass runs at once: it completes revocations a crash interrupted.
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.leases.sweep().catch((err: unknown) => {
        this.options.onError?.(err);
        return undefined;
      });
      void this.current.then(() => this.schedule(this.options.intervalMs));
    }, delay);
    this.timer.unref();
  }

  /** Stops scheduling and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.current;
  }
}
