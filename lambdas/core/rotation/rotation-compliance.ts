/**
 * Rotation-compliance figures for `coffer rotation status`: the share of secrets rotated on schedule, those overdue,
 * the rotation success rate and the time to rotate. Pure: the caller reads configs and rotation records and passes
 * `now`.
 *
 * Definitions (exact):
 * - A secret "has rotation" when its rotation config is `enabled`. Disabled configs count nowhere.
 * - Its due time is `nextRotationAt` when the config carries one (the service's own bookkeeping, which may also come
 *   from a rotator's `dueAt`, e.g. a certificate at two-thirds of its life); otherwise it is computed from `rules`
 *   with {@link nextRotationAt}, counting from `lastRotatedAt`, or from `createdAt` for a secret never rotated (so a
 *   never-rotated secret is due from the config's creation, not from `now`, and can become overdue).
 *   Without a due time (no rules, no `nextRotationAt`: on-demand only) a secret cannot be overdue.
 * - It is "overdue" when `now` is at or past the end of the window opening at its due time ({@link windowEnd};
 *   without rules, a window of one day). `overdueByMs` is `now - windowEnd`.
 * - It is "on schedule" when it has rotation and is not overdue. `onScheduleShare` = onSchedule / secretsWithRotation,
 *   1 when no secret has rotation.
 * - Rotations are counted per execution (a coordinated group of several secrets is one rotation). `successRate` =
 *   succeeded / (succeeded + failed): running rotations are not decided yet. Times to rotate are
 *   `finishedAt - startedAt` of succeeded rotations that have a `finishedAt`; p95 is the nearest-rank percentile.
 */

import type { RotationRules, RotationTrigger } from './rotation-types.ts';
import { nextRotationAt, windowEnd } from './schedule/rotation-rules.ts';

const DAY_MS = 86_400_000;

export interface ComplianceConfig {
  readonly name: string;
  readonly enabled: boolean;
  readonly rules?: RotationRules | undefined;
  /** Epoch ms. */
  readonly nextRotationAt?: number | undefined;
  /** Epoch ms. */
  readonly lastRotatedAt?: number | undefined;
  /** Epoch ms: when rotation was configured. */
  readonly createdAt: number;
}

export type RotationRecordStatus = 'running' | 'succeeded' | 'failed';

export interface ComplianceRotation {
  readonly rotationId: string;
  readonly secrets: readonly string[];
  readonly trigger: RotationTrigger;
  readonly status: RotationRecordStatus;
  /** Epoch ms. */
  readonly startedAt: number;
  /** Epoch ms; absent while running. */
  readonly finishedAt?: number | undefined;
}

export interface ComplianceInput {
  readonly configs: readonly ComplianceConfig[];
  readonly rotations: readonly ComplianceRotation[];
  /** Epoch ms. */
  readonly now: number;
}

export interface OverdueSecret {
  readonly name: string;
  /** When its window opened, epoch ms. */
  readonly dueAt: number;
  /** When its window closed, epoch ms. */
  readonly windowEnd: number;
  /** `now - windowEnd`, ≥ 0. */
  readonly overdueByMs: number;
}

export interface ComplianceFigures {
  /** Configs with rotation enabled. */
  readonly secretsWithRotation: number;
  /** Of those, not overdue. */
  readonly onSchedule: number;
  /** Most overdue first (then by name). */
  readonly overdue: readonly OverdueSecret[];
  /** onSchedule / secretsWithRotation, in 0..1; 1 when no secret has rotation. */
  readonly onScheduleShare: number;
  readonly rotations: {
    readonly total: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly running: number;
    /** succeeded / (succeeded + failed); undefined when none has ended. */
    readonly successRate: number | undefined;
  };
  /** Mean of `finishedAt - startedAt` over succeeded rotations; undefined when there are none. */
  readonly meanTimeToRotateMs: number | undefined;
  /** Nearest-rank 95th percentile of the same durations; undefined when there are none. */
  readonly p95TimeToRotateMs: number | undefined;
}

function dueAndWindow(config: ComplianceConfig): { dueAt: number; windowEnd: number } | undefined {
  const { rules } = config;
  let dueAt = config.nextRotationAt;
  if (dueAt === undefined && rules) dueAt = nextRotationAt(rules, config.lastRotatedAt, config.createdAt);
  if (dueAt === undefined) return undefined;
  return { dueAt, windowEnd: rules ? windowEnd(rules, dueAt) : dueAt + DAY_MS };
}

/** Nearest-rank percentile of ascending `sorted` (non-empty). */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? 0;
}

/**
 * The compliance figures (definitions in the module comment).
 *
 * @throws ValidationError when a config's rules are invalid (they are validated when stored, so this means a bug)
 * @example
 * ```ts
 * complianceFigures({ configs: [], rotations: [], now: Date.now() });
 * // { secretsWithRotation: 0, onSchedule: 0, overdue: [], onScheduleShare: 1,
 * //   rotations: { total: 0, succeeded: 0, failed: 0, running: 0, successRate: undefined },
 * //   meanTimeToRotateMs: undefined, p95TimeToRotateMs: undefined }
 * ```
 */
export function complianceFigures(input: ComplianceInput): ComplianceFigures {
  const { now } = input;
  const enabled = input.configs.filter((config) => config.enabled);
  const overdue: OverdueSecret[] = [];
  for (const config of enabled) {
    const due = dueAndWindow(config);
    if (due && now >= due.windowEnd) {
      overdue.push({ name: config.name, ...due, overdueByMs: now - due.windowEnd });
    }
  }
  overdue.sort((a, b) => b.overdueByMs - a.overdueByMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const onSchedule = enabled.length - overdue.length;

  let succeeded = 0;
  let failed = 0;
  let running = 0;
  const durations: number[] = [];
  for (const rotation of input.rotations) {
    if (rotation.status === 'succeeded') {
      succeeded += 1;
      if (rotation.finishedAt !== undefined) durations.push(Math.max(0, rotation.finishedAt - rotation.startedAt));
    } else if (rotation.status === 'failed') {
      failed += 1;
    } else {
      running += 1;
    }
  }
  durations.sort((a, b) => a - b);
  const decided = succeeded + failed;

  return {
    secretsWithRotation: enabled.length,
    onSchedule,
    overdue,
    onScheduleShare: enabled.length === 0 ? 1 : onSchedule / enabled.length,
    rotations: {
      total: input.rotations.length,
      succeeded,
      failed,
      running,
      successRate: decided === 0 ? undefined : succeeded / decided,
    },
    meanTimeToRotateMs:
      durations.length === 0 ? undefined : durations.reduce((sum, ms) => sum + ms, 0) / durations.length,
    p95TimeToRotateMs: durations.length === 0 ? undefined : percentile(durations, 95),
  };
}
