import type { RotationService } from './rotation-service.ts';

export interface RotationSchedulerOptions {
  readonly rotation: Pick<RotationService, 'rotateDue' | 'sweepRevocations'>;
  /** @default 10_000 */
  readonly intervalMs?: number;
  /** Told of a failed tick; the scheduler keeps going. */
  readonly onError?: (error: unknown) => void;
  /**
   * Runs a tick's schedule and revocations, where nodes share the store on the node winning the tick's claim
   * (`ClaimedPass`), so a due rotation is started and a retired credential revoked by one node.
   * @default runs it here
   */
  readonly runTick?: (tick: () => Promise<void>) => Promise<unknown>;
  /** Run first at every tick, on every node: takes over rotations whose node died (`interrupted`). @default none */
  readonly adoptInterrupted?: () => Promise<unknown>;
}

/**
 * The local node's durable scheduler. Schedules are the `nextRotationAt` of each rotation config in the store, so
 * nothing is lost when the node stops: the first tick, at start-up, starts every rotation that came due while it
 * was down ("missed schedules run on start"), and each later tick starts those that come due and revokes retired
 * credentials whose overlap has ended. On AWS, EventBridge Scheduler and a one-minute sweep do the same.
 */
export class RotationScheduler {
  readonly #options: RotationSchedulerOptions;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #stopped = false;

  constructor(options: RotationSchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    void this.runOnce();
  }

  /** One tick: due rotations, then due revocations. Ticks never overlap. */
  runOnce(): Promise<void> {
    this.#tick ??= (async () => {
      try {
        await this.#options.adoptInterrupted?.();
        const tick = async () => {
          await this.#options.rotation.rotateDue();
          await this.#options.rotation.sweepRevocations();
        };
        await (this.#options.runTick === undefined ? tick() : this.#options.runTick(tick));
      } catch (error) {
        this.#options.onError?.(error);
      } finally {
        this.#tick = undefined;
        this.#schedule();
      }
    })();
    return this.#tick;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.runOnce(), this.#options.intervalMs ?? 10_000);
    this.#timer.unref();
  }
}
