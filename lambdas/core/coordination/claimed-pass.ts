import type { Clock } from '../ports/clock.ts';
import { type Claims, soleNodeClaims } from './claims.ts';

/**
 * A periodic job (a sweep pass) that one node runs per interval when several nodes share a store: a pass first claims
 * `name` for `intervalMs`, and keeps the claim after it ends, so a node whose timer fires within the interval finds it
 * held and skips; the holder's own next pass renews it, and a killed holder's claim lapses after one interval, when
 * the next node to try takes over. A pass longer than the interval keeps its claim alive while it runs. The holder
 * too skips a pass asked for within the interval of its last (a manual pass, two timers): one pass per interval. The
 * store's only node runs every pass it is asked for, as it did before coordination.
 *
 * @example
 * ```ts
 * const pass = new ClaimedPass(claims, 'sweep/expiry', { clock, intervalMs: 60_000, run: () => expirySweep.sweep() });
 * await pass.sweep(); // undefined when another node ran this interval's pass
 * ```
 */
export class ClaimedPass<T> {
  readonly #claims: Claims;
  readonly #name: string;
  readonly #intervalMs: number;
  readonly #run: () => Promise<T>;
  readonly #clock: Clock;
  /** When this node's last pass started; -Infinity before the first. */
  #lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    claims: Claims,
    name: string,
    options: {
      readonly clock: Clock;
      /** How often the job should run across all nodes: the claim's TTL. */
      readonly intervalMs: number;
      readonly run: () => Promise<T>;
    },
  ) {
    this.#claims = claims;
    this.#name = name;
    this.#intervalMs = options.intervalMs;
    this.#run = options.run;
    this.#clock = options.clock;
  }

  /** One pass, on this node if it wins the interval's claim. @returns the job's outcome, undefined when skipped */
  async sweep(): Promise<T | undefined> {
    const now = this.#clock.now();
    // A clock set back before the last pass says nothing about the interval: the pass runs rather than wait for it.
    if (this.#claims !== soleNodeClaims && now >= this.#lastStart && now < this.#lastStart + this.#intervalMs) {
      return undefined;
    }
    if (!(await this.#claims.claim(this.#name, this.#intervalMs))) return undefined;
    this.#lastStart = now;
    const keepAlive = setInterval(
      () => {
        // A failed renewal is retried at the next beat; the pass cannot be cut short from here (see RELIABILITY.md).
        this.#claims.renew(this.#name, this.#intervalMs).catch(() => undefined);
      },
      Math.max(1, Math.floor(this.#intervalMs / 3)),
    );
    keepAlive.unref();
    try {
      return await this.#run();
    } finally {
      clearInterval(keepAlive);
    }
  }
}
