/**
 * Secrets Manager's `RotationRules` (validation, next due time, rotation window) and their translation to
 * EventBridge Scheduler. Pure functions: time is always passed in (epoch ms, UTC).
 *
 * The rules follow the Secrets Manager user guide ("Rotation schedules") and API reference (`RotationRulesType`):
 * - `automaticallyAfterDays`: 1–1000 (API reference).
 * - `scheduleExpression`:
 *   - `rate(N hour|hours|day|days)`: at least every 4 hours, at most every 999 days (the user guide's maximum
 *     rotation period).
 *   - `cron(min hour day-of-month month day-of-week year)`: EventBridge's 6-field syntax (`./cron.ts`), with Secrets
 *     Manager's extra rules: minutes must be `0` (windows open on the hour) and year must be `*` (no schedule more
 *     than a year apart). We also enforce what those rules imply: the schedule matches at least once a year and
 *     never runs more often than every 4 hours.
 * - `duration`: the window length in whole hours, `1h`–`24h`. It must not run into the next UTC day (window
 *   opening hour + duration ≤ 24) nor into the next window (for schedules in hours, duration ≤ hours between them).
 *
 * Where Coffer differs (documented choices):
 * - Interval rules (`automaticallyAfterDays`, `rate(...)`) are due exactly one interval after the last rotation,
 *   not at the following midnight as Secrets Manager aligns them; their default window is therefore measured from
 *   the due time (24 h for days, 1 h for hours) instead of "until the end of the UTC day".
 * - A secret never rotated under an interval rule is due at once (as `RotateImmediately`, AWS's default).
 *   Under a cron rule it is due at the next cron time after `now`.
 */
import * as z from 'zod';
import { ValidationError } from '../../errors.ts';
import type { RotationRules } from '../rotation-types.ts';
import { type CronSchedule, civilDay, cronProblem, dayMatches, daysInMonth, nextCronTime } from './cron.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Limits of the rules, from the Secrets Manager documentation. */
export const ROTATION_RULE_LIMITS = {
  automaticallyAfterDaysMax: 1000,
  rateMinHours: 4,
  rateMaxDays: 999,
  durationMinHours: 1,
  durationMaxHours: 24,
  scheduleExpressionMaxLength: 256,
  /** Secrets Manager rotates at most every four hours, whatever the expression. */
  minHoursBetweenRotations: 4,
} as const;

/** How a schedule counts: in hours (default window 1 h) or in days (default window: the rest of the day). */
export type ScheduleUnit = 'hours' | 'days';

type CompiledSchedule =
  | { readonly kind: 'interval'; readonly unit: ScheduleUnit; readonly count: number; readonly intervalMs: number }
  | { readonly kind: 'cron'; readonly unit: ScheduleUnit; readonly cron: CronSchedule };

interface CompiledRules {
  readonly schedule: CompiledSchedule;
  readonly durationHours: number | undefined;
}

interface RuleIssue {
  readonly path: 'automaticallyAfterDays' | 'scheduleExpression' | 'duration' | undefined;
  readonly message: string;
}

function parseRate(expression: string): CompiledSchedule | string {
  const match = /^rate\(([1-9]\d{0,5}) (hour|hours|day|days)\)$/.exec(expression);
  if (!match) return "scheduleExpression: a rate must look like 'rate(10 days)' or 'rate(12 hours)'";
  const count = Number(match[1]);
  const unit: ScheduleUnit = match[2]?.startsWith('hour') ? 'hours' : 'days';
  const maxHours = ROTATION_RULE_LIMITS.rateMaxDays * 24;
  if (unit === 'hours' && (count < ROTATION_RULE_LIMITS.rateMinHours || count > maxHours)) {
    return `scheduleExpression: a rate in hours must be from ${ROTATION_RULE_LIMITS.rateMinHours} to ${maxHours} hours`;
  }
  if (unit === 'days' && (count < 1 || count > ROTATION_RULE_LIMITS.rateMaxDays)) {
    return `scheduleExpression: a rate in days must be from 1 to ${ROTATION_RULE_LIMITS.rateMaxDays} days`;
  }
  return { kind: 'interval', unit, count, intervalMs: count * (unit === 'hours' ? HOUR_MS : DAY_MS) };
}

/** The scan that checks "at least once a year" covers 30 years from 2001 (every weekday/leap-year combination). */
const SCAN_FIRST_YEAR = 2001;
const SCAN_YEARS = 30;
const SCAN_START = Date.UTC(SCAN_FIRST_YEAR, 0, 1);
const SCAN_DAYS = Math.round((Date.UTC(SCAN_FIRST_YEAR + SCAN_YEARS, 0, 1) - SCAN_START) / DAY_MS);

/** Secrets Manager's restrictions on top of the EventBridge syntax. */
function secretsManagerCronProblem(cron: CronSchedule): string | undefined {
  const [minuteField, , , , , yearField] = cron.fields;
  if (minuteField !== '0') return 'scheduleExpression: minutes must be 0 (rotation windows open on the hour)';
  if (yearField !== '*') return "scheduleExpression: year must be '*'";
  let previous = -1;
  let longestGap = 0;
  let adjacentDays = false;
  let i = 0;
  let weekday = civilDay(SCAN_START).weekday;
  for (let year = SCAN_FIRST_YEAR; year < SCAN_FIRST_YEAR + SCAN_YEARS; year += 1) {
    for (let month = 1; month <= 12; month += 1) {
      const length = daysInMonth(year, month);
      for (let day = 1; day <= length; day += 1, i += 1, weekday = (weekday % 7) + 1) {
        if (!dayMatches(cron, { year, month, day, weekday })) continue;
        if (previous >= 0 && i - previous === 1) adjacentDays = true;
        longestGap = Math.max(longestGap, i - previous);
        previous = i;
      }
    }
  }
  if (previous < 0) return 'scheduleExpression: the cron expression never matches a date';
  if (Math.max(longestGap, SCAN_DAYS - previous) > 366) {
    return 'scheduleExpression: the schedule must rotate at least once a year';
  }
  const gaps = hourGaps(cron.hours, adjacentDays);
  if (gaps.length > 0 && Math.min(...gaps) < ROTATION_RULE_LIMITS.minHoursBetweenRotations) {
    return `scheduleExpression: rotations must be at least ${ROTATION_RULE_LIMITS.minHoursBetweenRotations} hours apart`;
  }
  return undefined;
}

/** Hours between consecutive windows of one day, and across midnight when two consecutive days both fire. */
function hourGaps(hours: readonly number[], adjacentDays: boolean): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < hours.length; i += 1) gaps.push((hours[i] ?? 0) - (hours[i - 1] ?? 0));
  if (adjacentDays) gaps.push(24 - (hours[hours.length - 1] ?? 0) + (hours[0] ?? 0));
  return gaps;
}

function durationProblem(durationHours: number, schedule: CompiledSchedule): string | undefined {
  if (schedule.kind === 'interval') {
    if (schedule.unit === 'hours' && durationHours > schedule.count) {
      return `duration: the window (${durationHours}h) must not be longer than the interval (${schedule.count} hours)`;
    }
    return undefined;
  }
  const hours = schedule.cron.hours;
  const lastHour = hours[hours.length - 1] ?? 0;
  if (lastHour + durationHours > 24) {
    return `duration: a window opening at ${lastHour}:00 must close by the end of the UTC day (${durationHours}h is too long)`;
  }
  const gaps = hourGaps(hours, false);
  if (gaps.length > 0 && durationHours > Math.min(...gaps)) {
    return `duration: the window (${durationHours}h) must not run into the next window (${Math.min(...gaps)} hours later)`;
  }
  return undefined;
}

function analyse(rules: RotationRules): CompiledRules | RuleIssue[] {
  const issues: RuleIssue[] = [];
  const { automaticallyAfterDays: days, scheduleExpression: expression, duration } = rules;
  if (days !== undefined && expression !== undefined) {
    return [{ path: undefined, message: 'give automaticallyAfterDays or scheduleExpression, not both' }];
  }
  if (days === undefined && expression === undefined) {
    return [{ path: undefined, message: 'rotation rules need automaticallyAfterDays or scheduleExpression' }];
  }
  let schedule: CompiledSchedule | undefined;
  if (days !== undefined) {
    if (!Number.isInteger(days) || days < 1 || days > ROTATION_RULE_LIMITS.automaticallyAfterDaysMax) {
      issues.push({
        path: 'automaticallyAfterDays',
        message: `automaticallyAfterDays must be a whole number from 1 to ${ROTATION_RULE_LIMITS.automaticallyAfterDaysMax}`,
      });
    } else {
      schedule = { kind: 'interval', unit: 'days', count: days, intervalMs: days * DAY_MS };
    }
  } else if (expression !== undefined) {
    const result = scheduleProblem(expression);
    if (typeof result === 'string') issues.push({ path: 'scheduleExpression', message: result });
    else schedule = result;
  }
  let durationHours: number | undefined;
  if (duration !== undefined) {
    const match = /^(\d{1,2})h$/.exec(duration);
    const hours = Number(match?.[1]);
    if (
      !match ||
      match[1]?.startsWith('0') ||
      hours < ROTATION_RULE_LIMITS.durationMinHours ||
      hours > ROTATION_RULE_LIMITS.durationMaxHours
    ) {
      issues.push({ path: 'duration', message: "duration must be whole hours from '1h' to '24h', such as '3h'" });
    } else {
      durationHours = hours;
      const problem = schedule ? durationProblem(hours, schedule) : undefined;
      if (problem) issues.push({ path: 'duration', message: problem });
    }
  }
  if (issues.length > 0 || !schedule) return issues;
  return { schedule, durationHours };
}

function scheduleProblem(expression: string): CompiledSchedule | string {
  if (expression.length > ROTATION_RULE_LIMITS.scheduleExpressionMaxLength) {
    return `scheduleExpression must be at most ${ROTATION_RULE_LIMITS.scheduleExpressionMaxLength} characters`;
  }
  if (expression.startsWith('rate(')) return parseRate(expression);
  if (!expression.startsWith('cron(')) {
    return "scheduleExpression must be 'rate(N hours|days)' or 'cron(min hour day-of-month month day-of-week year)'";
  }
  const cron = cronProblem(expression);
  if (typeof cron === 'string') return `scheduleExpression: ${cron}`;
  const problem = secretsManagerCronProblem(cron);
  if (problem) return problem;
  return { kind: 'cron', unit: cron.hours.length > 1 ? 'hours' : 'days', cron };
}

/**
 * Secrets Manager's `RotationRules`: exactly one of `automaticallyAfterDays` and `scheduleExpression`, plus an
 * optional window `duration`. Unknown keys are refused. Every message names the field it is about.
 *
 * @example
 * ```ts
 * RotationRulesSchema.parse({ scheduleExpression: 'cron(0 4 ? * SUN *)', duration: '3h' }); // ok
 * RotationRulesSchema.parse({ automaticallyAfterDays: 30, scheduleExpression: 'rate(30 days)' }); // throws: not both
 * ```
 */
export const RotationRulesSchema: z.ZodType<RotationRules> = z
  .strictObject(
    {
      // Range and integrality are checked with the other rules below, so each problem gives one message.
      automaticallyAfterDays: z.number({ error: 'automaticallyAfterDays must be a number' }).optional(),
      scheduleExpression: z.string({ error: 'scheduleExpression must be a string' }).optional(),
      duration: z.string({ error: 'duration must be a string' }).optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `rotation rules do not accept ${issue.keys.join(', ')}`
          : 'rotation rules must be an object',
    },
  )
  .superRefine((rules, ctx) => {
    const result = analyse(rules);
    if (!Array.isArray(result)) return;
    for (const issue of result) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path ? [issue.path] : [] });
    }
  });

/**
 * Validates rules (as `RotationRulesSchema`) and returns them.
 * @throws ValidationError whose message names each offending field
 */
export function parseRotationRules(input: unknown): RotationRules {
  const result = RotationRulesSchema.safeParse(input);
  if (result.success) return result.data;
  const messages = [...new Set(result.error.issues.map((issue) => issue.message))];
  throw new ValidationError(messages.join('; '), { cause: result.error });
}

const compiledCache = new Map<string, CompiledRules>();
const COMPILED_CACHE_MAX = 1000;

function compile(rules: RotationRules): CompiledRules {
  const key = JSON.stringify([rules.automaticallyAfterDays, rules.scheduleExpression, rules.duration]);
  const cached = compiledCache.get(key);
  if (cached) return cached;
  const result = analyse(rules);
  if (Array.isArray(result)) throw new ValidationError(result.map((issue) => issue.message).join('; '));
  if (compiledCache.size >= COMPILED_CACHE_MAX) compiledCache.clear();
  compiledCache.set(key, result);
  return result;
}

/**
 * When the next rotation is due (epoch ms, UTC): when its window opens.
 * - `automaticallyAfterDays` / `rate(...)`: one interval after `lastRotatedAt`; a secret never rotated is due at
 *   once (`now`).
 * - `cron(...)`: the first cron time strictly after `lastRotatedAt`, or after `now` when never rotated.
 *
 * A due time in the past means a missed rotation: the scheduler runs it on start.
 *
 * @throws ValidationError when the rules are invalid
 * @example
 * ```ts
 * nextRotationAt({ automaticallyAfterDays: 30 }, Date.UTC(2026, 0, 1), now); // Date.UTC(2026, 0, 31)
 * nextRotationAt({ scheduleExpression: 'cron(0 4 L * ? *)' }, Date.UTC(2026, 0, 31, 5), now); // 2026-02-28T04:00Z
 * ```
 */
export function nextRotationAt(rules: RotationRules, lastRotatedAt: number | undefined, now: number): number {
  const { schedule } = compile(rules);
  if (schedule.kind === 'interval') return lastRotatedAt === undefined ? now : lastRotatedAt + schedule.intervalMs;
  const from = lastRotatedAt ?? now;
  const next = nextCronTime(schedule.cron, from);
  // Unreachable for validated rules (they match at least once a year); kept so a bug cannot schedule nothing.
  if (next === undefined) throw new ValidationError('scheduleExpression: no rotation time within a year');
  return next;
}

/**
 * The length of the rotation window that opens at `dueAt`, in ms.
 * - With `duration`: that many hours.
 * - Schedules in hours (`rate(N hours)`, a cron firing at several hours of a day): 1 hour.
 * - Cron schedules in days: until the end of that UTC day, as Secrets Manager.
 * - `automaticallyAfterDays` and `rate(N days)`: 24 hours from the due time (Coffer's intervals are not aligned to
 *   midnight, so "the rest of the day" would make the window depend on the hour of the last rotation).
 */
function windowLengthMs(compiled: CompiledRules, dueAt: number): number {
  if (compiled.durationHours !== undefined) return compiled.durationHours * HOUR_MS;
  const { schedule } = compiled;
  if (schedule.unit === 'hours') return HOUR_MS;
  if (schedule.kind === 'interval') return DAY_MS;
  return Math.floor(dueAt / DAY_MS) * DAY_MS + DAY_MS - dueAt;
}

/**
 * The end of the window that opens at `dueAt` (epoch ms, exclusive): the window is `[dueAt, windowEnd)`.
 * See the module comment for the defaults when `duration` is not given.
 *
 * @example
 * ```ts
 * windowEnd({ scheduleExpression: 'cron(0 16 * * ? *)' }, Date.UTC(2026, 0, 5, 16)); // Date.UTC(2026, 0, 6)
 * windowEnd({ automaticallyAfterDays: 7, duration: '3h' }, due); // due + 3 h
 * ```
 */
export function windowEnd(rules: RotationRules, dueAt: number): number {
  return dueAt + windowLengthMs(compile(rules), dueAt);
}

/** True when a rotation due at `dueAt` may start now (its window has opened). */
export function isDue(dueAt: number, now: number): boolean {
  return now >= dueAt;
}

/**
 * True when the rotation due at `dueAt` has not happened and its window has closed: `now >= windowEnd(rules, dueAt)`.
 * A rotation that is due but still inside its window is not overdue.
 */
export function isOverdue(rules: RotationRules, dueAt: number, now: number): boolean {
  return now >= windowEnd(rules, dueAt);
}

/** What to give EventBridge Scheduler's CreateSchedule/UpdateSchedule (field names as the SDK's). */
export interface SchedulerSchedule {
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone: 'UTC';
  /** The rotation window: Scheduler invokes at some time within it, which spreads the load as AWS does. */
  readonly FlexibleTimeWindow: { readonly Mode: 'FLEXIBLE'; readonly MaximumWindowInMinutes: number };
}

/**
 * The EventBridge Scheduler schedule for `rules`: `rate(1 day)` / `rate(N days)` / `rate(N hours)` (Scheduler wants
 * the singular unit for 1 and the plural otherwise) or the canonical `cron(...)`, with the rotation window as a
 * flexible time window (1–1440 minutes).
 *
 * On AWS a rate schedule counts from the schedule's creation, not from the last rotation; the service re-puts the
 * schedule after an on-demand rotation if it wants the two to agree.
 *
 * @example
 * ```ts
 * toSchedulerExpression({ automaticallyAfterDays: 30, duration: '2h' });
 * // { ScheduleExpression: 'rate(30 days)', ScheduleExpressionTimezone: 'UTC',
 * //   FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 120 } }
 * ```
 */
export function toSchedulerExpression(rules: RotationRules): SchedulerSchedule {
  const compiled = compile(rules);
  const { schedule } = compiled;
  let expression: string;
  let windowMinutes: number;
  if (schedule.kind === 'interval') {
    const unit = schedule.unit === 'hours' ? 'hour' : 'day';
    expression = `rate(${schedule.count} ${unit}${schedule.count === 1 ? '' : 's'})`;
    windowMinutes = windowLengthMs(compiled, 0) / MINUTE_MS;
  } else {
    expression = schedule.cron.expression;
    // Every window of a days-based cron opens at its single hour, so the day's remainder is the same each time.
    const firstHour = schedule.cron.hours[0] ?? 0;
    windowMinutes = windowLengthMs(compiled, firstHour * HOUR_MS) / MINUTE_MS;
  }
  return {
    ScheduleExpression: expression,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: windowMinutes },
  };
}
