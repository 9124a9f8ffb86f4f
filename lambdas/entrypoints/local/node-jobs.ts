import { ClaimedPass } from '../../core/coordination/claimed-pass.ts';
import { type Claims, soleNodeClaims } from '../../core/coordination/claims.ts';
import { LeaseSweeper, type Sweepable } from '../../core/leases/lease-sweeper.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { RotationScheduler } from '../../core/rotation/rotation-scheduler.ts';
import type { RotationService } from '../../core/rotation/rotation-service.ts';
import type { RotationExecutionInput } from '../../core/rotation/rotation-workflow.ts';

/** The claims of the node's periodic jobs: one node runs each per interval. */
export const JOB_CLAIMS = {
  leaseSweep: 'sweep/leases',
  expirySweep: 'sweep/expiry',
  purge: 'sweep/purge',
  rotationTick: 'rotation/tick',
} as const;

export interface NodeJobsOptions {
  /** `soleNodeClaims` for a node that is its store's only writer (no I/O); `StoreClaims` where nodes share it. */
  readonly claims: Claims;
  readonly clock: Clock;
  readonly leases: Sweepable;
  readonly expirySweep: Sweepable;
  /** Deletes secrets whose recovery window has ended. */
  readonly purge: () => Promise<number>;
  readonly rotation: Pick<RotationService, 'rotateDue' | 'sweepRevocations' | 'interrupted'>;
  /** The node's rotation runner, built over the same `claims`. */
  readonly runner: {
    launch(input: RotationExecutionInput): Promise<void>;
    adopt(rotationId: string): Promise<boolean>;
  };
  readonly intervals: {
    readonly leaseSweepMs: number;
    readonly expirySweepMs: number;
    readonly purgeMs: number;
    readonly rotationTickMs: number;
  };
  /** Told of a failed pass (names and messages, never values); the job keeps its schedule. */
  readonly onError: (job: 'lease sweep' | 'expiry sweep' | 'rotation scheduler', error: unknown) => void;
}

/**
 * The background jobs of a local node, coordinated so that N nodes on one store run each once: the lease sweep, the
 * expiry sweep and the deletion purge run one pass per interval on whichever node wins the interval's claim; the
 * rotation tick likewise; a rotation runs on the node holding its claim, and another node adopts it only once that
 * claim has expired (its node died). On the store's only node every claim is granted with no I/O.
 *
 * @example
 * ```ts
 * const jobs = new NodeJobs({ claims, leases, expirySweep, purge, rotation, runner, intervals, onError });
 * await jobs.start();
 * await jobs.stop();
 * ```
 */
export class NodeJobs {
  /** One pass of each job as its timer runs it (undefined: another node ran this interval's). */
  readonly leaseSweep: ClaimedPass<unknown>;
  readonly expirySweep: ClaimedPass<unknown>;
  readonly purge: ClaimedPass<number>;
  readonly #options: NodeJobsOptions;
  readonly #leaseSweeper: LeaseSweeper;
  readonly #expirySweeper: LeaseSweeper;
  readonly #scheduler: RotationScheduler;

  constructor(options: NodeJobsOptions) {
    this.#options = options;
    const { claims, clock, intervals, onError } = options;
    this.leaseSweep = new ClaimedPass(claims, JOB_CLAIMS.leaseSweep, {
      clock,
      intervalMs: intervals.leaseSweepMs,
      run: () => options.leases.sweep(),
    });
    this.expirySweep = new ClaimedPass(claims, JOB_CLAIMS.expirySweep, {
      clock,
      intervalMs: intervals.expirySweepMs,
      run: () => options.expirySweep.sweep(),
    });
    this.purge = new ClaimedPass(claims, JOB_CLAIMS.purge, {
      clock,
      intervalMs: intervals.purgeMs,
      run: options.purge,
    });
    this.#leaseSweeper = new LeaseSweeper(this.leaseSweep, {
      intervalMs: intervals.leaseSweepMs,
      onError: (error) => onError('lease sweep', error),
    });
    this.#expirySweeper = new LeaseSweeper(this.expirySweep, {
      intervalMs: intervals.expirySweepMs,
      onError: (error) => onError('expiry sweep', error),
    });
    // The scheduler hands each tick's work over; the pass (one object, remembering this node's last tick) runs it.
    let tickWork: () => Promise<void> = async () => undefined;
    const rotationTick = new ClaimedPass(claims, JOB_CLAIMS.rotationTick, {
      clock,
      intervalMs: intervals.rotationTickMs,
      run: () => tickWork(),
    });
    this.#scheduler = new RotationScheduler({
      rotation: options.rotation,
      intervalMs: intervals.rotationTickMs,
      onError: (error) => onError('rotation scheduler', error),
      runTick: (tick) => {
        tickWork = tick;
        return rotationTick.sweep();
      },
      // The only node adopts what a crash left at start-up; where nodes share the store, one may die at any time.
      ...(claims !== soleNodeClaims && { adoptInterrupted: () => this.adoptInterrupted() }),
    });
  }

  /** One rotation tick as the scheduler's timer runs it: the schedule and revocations, if this node wins the tick. */
  rotationTick(): Promise<void> {
    return this.#scheduler.runOnce();
  }

  /**
   * Resumes the rotations this node may take over: on the only node, every unfinished one (a restart after a crash);
   * where nodes share the store, those whose node's claim has expired.
   * @returns how many were resumed here
   */
  async adoptInterrupted(): Promise<number> {
    const adopted = await this.#options.rotation.interrupted((id) => this.#options.runner.adopt(id));
    for (const input of adopted) await this.#options.runner.launch(input);
    return adopted.length;
  }

  /**
   * Starts the sweepers (their first pass at once finishes what a crash interrupted), resumes interrupted rotations
   * before anything new starts, then the rotation scheduler (whose first tick starts what came due meanwhile).
   */
  async start(): Promise<void> {
    this.#leaseSweeper.start();
    this.#expirySweeper.start();
    await this.adoptInterrupted();
    this.#scheduler.start();
  }

  async stop(): Promise<void> {
    await this.#scheduler.stop();
    await this.#leaseSweeper.stop();
    await this.#expirySweeper.stop();
  }
}
