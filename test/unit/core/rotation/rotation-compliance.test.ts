import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import {
  type ComplianceConfig,
  type ComplianceRotation,
  complianceFigures,
} from '../../../../lambdas/core/rotation/rotation-compliance.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = Date.UTC(2026, 5, 15, 12);

const config = (name: string, rest: Partial<ComplianceConfig>): ComplianceConfig => ({
  name,
  enabled: true,
  createdAt: now - 400 * DAY,
  ...rest,
});

let ids = 0;
const rotation = (status: ComplianceRotation['status'], startedAt: number, finishedAt?: number): ComplianceRotation => {
  ids += 1;
  return { rotationId: `r-${ids}`, secrets: ['s'], trigger: 'schedule', status, startedAt, finishedAt };
};

describe('Function: complianceFigures', () => {
  it('gives neutral figures for empty inputs', () => {
    expect(complianceFigures({ configs: [], rotations: [], now })).toEqual({
      secretsWithRotation: 0,
      onSchedule: 0,
      overdue: [],
      onScheduleShare: 1,
      rotations: { total: 0, succeeded: 0, failed: 0, running: 0, successRate: undefined },
      meanTimeToRotateMs: undefined,
      p95TimeToRotateMs: undefined,
    });
  });

  it('counts enabled configs, on schedule or overdue, and lists the overdue most overdue first', () => {
    const figures = complianceFigures({
      configs: [
        // rotated 10 days ago, every 30 days: on schedule
        config('fresh', { rules: { automaticallyAfterDays: 30 }, lastRotatedAt: now - 10 * DAY }),
        // due 2 days ago, one-day window closed 1 day ago: overdue by a day
        config('late', { rules: { automaticallyAfterDays: 7 }, lastRotatedAt: now - 9 * DAY }),
        // disabled: counts nowhere, however late
        config('off', { enabled: false, rules: { automaticallyAfterDays: 1 }, lastRotatedAt: now - 300 * DAY }),
        // never rotated: due from the config's creation 3 days ago, window closed 2 days ago
        config('never', { rules: { automaticallyAfterDays: 30 }, createdAt: now - 3 * DAY }),
        // on demand only: cannot be overdue
        config('manual', {}),
        // the stored due time wins over the computed one: due 2 h ago, 1 h window (rate in hours)
        config('stored', {
          rules: { scheduleExpression: 'rate(6 hours)' },
          lastRotatedAt: now - HOUR,
          nextRotationAt: now - 2 * HOUR,
        }),
        // a due time without rules (a certificate's dueAt): a one-day window
        config('cert', { nextRotationAt: now - 25 * HOUR }),
        // due, still inside its window: on schedule
        config('in-window', {
          rules: { scheduleExpression: 'cron(0 4 * * ? *)' },
          lastRotatedAt: Date.UTC(2026, 5, 14, 4, 10),
        }),
      ],
      rotations: [],
      now,
    });
    expect(figures.secretsWithRotation).toBe(7);
    expect(figures.overdue).toEqual([
      { name: 'never', dueAt: now - 3 * DAY, windowEnd: now - 2 * DAY, overdueByMs: 2 * DAY },
      { name: 'late', dueAt: now - 2 * DAY, windowEnd: now - DAY, overdueByMs: DAY },
      { name: 'cert', dueAt: now - 25 * HOUR, windowEnd: now - HOUR, overdueByMs: HOUR },
      { name: 'stored', dueAt: now - 2 * HOUR, windowEnd: now - HOUR, overdueByMs: HOUR },
    ]);
    expect(figures.onSchedule).toBe(3);
    expect(figures.onScheduleShare).toBeCloseTo(3 / 7);
  });

  it('is overdue exactly from the window end', () => {
    const rules = { automaticallyAfterDays: 7, duration: '2h' };
    const lastRotatedAt = now - 7 * DAY - 2 * HOUR; // due 2 h ago, window of 2 h: closes now
    const at = (t: number) =>
      complianceFigures({ configs: [config('s', { rules, lastRotatedAt })], rotations: [], now: t });
    expect(at(now - 1).overdue).toEqual([]);
    expect(at(now - 1).onScheduleShare).toBe(1);
    expect(at(now).overdue).toEqual([{ name: 's', dueAt: now - 2 * HOUR, windowEnd: now, overdueByMs: 0 }]);
    expect(at(now).onScheduleShare).toBe(0);
  });

  it('orders equally overdue secrets by name', () => {
    const late = { rules: { automaticallyAfterDays: 1 }, lastRotatedAt: now - 5 * DAY };
    const figures = complianceFigures({ configs: [config('b', late), config('a', late)], rotations: [], now });
    expect(figures.overdue.map((o) => o.name)).toEqual(['a', 'b']);
  });

  it('counts rotations by status and takes the success rate over ended ones', () => {
    const figures = complianceFigures({
      configs: [],
      rotations: [
        rotation('succeeded', 0, 4_000),
        rotation('succeeded', 10_000, 12_000),
        rotation('failed', 20_000, 21_000),
        rotation('running', 30_000),
        rotation('succeeded', 40_000, 46_000),
        rotation('failed', 50_000, 59_000),
      ],
      now,
    });
    expect(figures.rotations).toEqual({ total: 6, succeeded: 3, failed: 2, running: 1, successRate: 3 / 5 });
    // succeeded only: 4 s, 2 s, 6 s
    expect(figures.meanTimeToRotateMs).toBe(4_000);
    expect(figures.p95TimeToRotateMs).toBe(6_000);
  });

  it('has no success rate or times while nothing has ended', () => {
    const figures = complianceFigures({ configs: [], rotations: [rotation('running', 0)], now });
    expect(figures.rotations.successRate).toBeUndefined();
    expect(figures.meanTimeToRotateMs).toBeUndefined();
    expect(figures.p95TimeToRotateMs).toBeUndefined();
  });

  it('rates all failures as 0, without times to rotate', () => {
    const figures = complianceFigures({ configs: [], rotations: [rotation('failed', 0, 10)], now });
    expect(figures.rotations.successRate).toBe(0);
    expect(figures.meanTimeToRotateMs).toBeUndefined();
  });

  it('takes the nearest-rank 95th percentile', () => {
    // 20 rotations of 1..20 s: rank ceil(0.95 × 20) = 19
    const twenty = Array.from({ length: 20 }, (_, i) => rotation('succeeded', 0, (i + 1) * 1000));
    expect(complianceFigures({ configs: [], rotations: twenty, now }).p95TimeToRotateMs).toBe(19_000);
    expect(complianceFigures({ configs: [], rotations: twenty, now }).meanTimeToRotateMs).toBe(10_500);
    // 21 rotations: rank ceil(19.95) = 20
    const more = [...twenty, rotation('succeeded', 0, 100_000)];
    expect(complianceFigures({ configs: [], rotations: more, now }).p95TimeToRotateMs).toBe(20_000);
    expect(complianceFigures({ configs: [], rotations: [rotation('succeeded', 5, 8)], now }).p95TimeToRotateMs).toBe(3);
  });

  it('counts a succeeded rotation without an end in the rate but not in the times', () => {
    const figures = complianceFigures({
      configs: [],
      rotations: [rotation('succeeded', 0), rotation('succeeded', 0, 2_000)],
      now,
    });
    expect(figures.rotations.successRate).toBe(1);
    expect(figures.meanTimeToRotateMs).toBe(2_000);
  });

  it('refuses a config with invalid rules', () => {
    expect(() =>
      complianceFigures({ configs: [config('bad', { rules: { automaticallyAfterDays: 0 } })], rotations: [], now }),
    ).toThrow(ValidationError);
  });
});
