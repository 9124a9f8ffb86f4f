import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';
import type { RotationRules } from '../../../../../lambdas/core/rotation/rotation-types.ts';
import { cronMatches, parseAwsCron } from '../../../../../lambdas/core/rotation/schedule/cron.ts';
import {
  isDue,
  isOverdue,
  nextRotationAt,
  parseRotationRules,
  RotationRulesSchema,
  toSchedulerExpression,
  windowEnd,
} from '../../../../../lambdas/core/rotation/schedule/rotation-rules.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = (y: number, m: number, d: number, h = 0, min = 0) => Date.UTC(y, m - 1, d, h, min);
const iso = (ms: number) => new Date(ms).toISOString();

describe('Schema: RotationRulesSchema', () => {
  it.each<[string, RotationRules]>([
    // Secrets Manager user guide examples
    ['rate(4 hours)', { scheduleExpression: 'rate(4 hours)' }],
    ['rate(1 day)', { scheduleExpression: 'rate(1 day)' }],
    ['rate(10 days)', { scheduleExpression: 'rate(10 days)' }],
    ['cron(0 4/12 * * ? *)', { scheduleExpression: 'cron(0 4/12 * * ? *)' }],
    ['cron(0 8 1 * ? *) with 3h', { scheduleExpression: 'cron(0 8 1 * ? *)', duration: '3h' }],
    ['cron(0 16 L * ? *)', { scheduleExpression: 'cron(0 16 L * ? *)' }],
    ['cron(0 0 ? * SUN#1 *)', { scheduleExpression: 'cron(0 0 ? * SUN#1 *)' }],
    ['cron(0 8/8 * * ? *)', { scheduleExpression: 'cron(0 8/8 * * ? *)' }],
    ['cron(0 2/10 * * ? *)', { scheduleExpression: 'cron(0 2/10 * * ? *)' }],
    ['cron(0 8 1/7 * ? *)', { scheduleExpression: 'cron(0 8 1/7 * ? *)' }],
    // EventBridge examples that Secrets Manager also accepts
    ['cron(0 10 * * ? *)', { scheduleExpression: 'cron(0 10 * * ? *)' }],
    ['cron(0 18 ? * MON-FRI *)', { scheduleExpression: 'cron(0 18 ? * MON-FRI *)' }],
    ['cron(0 9 ? * 2#1 *)', { scheduleExpression: 'cron(0 9 ? * 2#1 *)' }],
    // More syntax
    ['rate(12 hours) with 12h', { scheduleExpression: 'rate(12 hours)', duration: '12h' }],
    ['rate(1 days) (any unit form)', { scheduleExpression: 'rate(1 days)' }],
    ['rate(999 days)', { scheduleExpression: 'rate(999 days)' }],
    ['15W', { scheduleExpression: 'cron(0 0 15W * ? *)' }],
    ['31W', { scheduleExpression: 'cron(0 0 31W * ? *)' }],
    ['6L', { scheduleExpression: 'cron(0 12 ? * 6L *)' }],
    ['FRIL', { scheduleExpression: 'cron(0 12 ? * FRIL *)' }],
    ['L in day-of-week', { scheduleExpression: 'cron(0 0 ? * L *)' }],
    ['month names list', { scheduleExpression: 'cron(0 0 1 JAN,APR,JUL,OCT ? *)' }],
    ['lower-case names', { scheduleExpression: 'cron(0 23 ? jan-jun mon *)' }],
    ['hour list 6 apart', { scheduleExpression: 'cron(0 0,6,12,18 * * ? *)' }],
    ['last day of February', { scheduleExpression: 'cron(0 0 L FEB ? *)' }],
    ['day range with increment', { scheduleExpression: 'cron(0 3 1-20/5 * ? *)' }],
    ['window to midnight', { scheduleExpression: 'cron(0 4 * * ? *)', duration: '20h' }],
    ['automaticallyAfterDays 1', { automaticallyAfterDays: 1 }],
    ['automaticallyAfterDays 1000 with 24h', { automaticallyAfterDays: 1000, duration: '24h' }],
    ['windows 8 hours apart, 8h long', { scheduleExpression: 'cron(0 0,8 * * ? *)', duration: '8h' }],
  ])('accepts %s', (_label, rules) => {
    expect(parseRotationRules(rules)).toEqual(rules);
  });

  it.each<[string, unknown, RegExp]>([
    ['no schedule', {}, /need automaticallyAfterDays or scheduleExpression/],
    ['both', { automaticallyAfterDays: 3, scheduleExpression: 'rate(3 days)' }, /not both/],
    ['0 days', { automaticallyAfterDays: 0 }, /automaticallyAfterDays must be a whole number from 1 to 1000$/],
    ['1001 days', { automaticallyAfterDays: 1001 }, /automaticallyAfterDays must be a whole number from 1 to 1000$/],
    ['1.5 days', { automaticallyAfterDays: 1.5 }, /automaticallyAfterDays must be a whole number from 1 to 1000$/],
    ['days as a string', { automaticallyAfterDays: '30' }, /automaticallyAfterDays must be a number/],
    ['rate(3 hours)', { scheduleExpression: 'rate(3 hours)' }, /rate in hours must be from 4/],
    ['rate(1000 days)', { scheduleExpression: 'rate(1000 days)' }, /rate in days must be from 1 to 999/],
    ['rate(0 days)', { scheduleExpression: 'rate(0 days)' }, /scheduleExpression: a rate must look like/],
    ['rate(10 minutes)', { scheduleExpression: 'rate(10 minutes)' }, /scheduleExpression: a rate must look like/],
    ['rate(10days)', { scheduleExpression: 'rate(10days)' }, /a rate must look like/],
    ['neither rate nor cron', { scheduleExpression: 'every day' }, /scheduleExpression must be 'rate/],
    [
      'both day fields',
      { scheduleExpression: 'cron(0 10 * * * *)' },
      /one of day-of-month and day-of-week must be '\?'/,
    ],
    ['no day field', { scheduleExpression: 'cron(0 10 ? * ? *)' }, /only one of day-of-month and day-of-week/],
    ['hour 24', { scheduleExpression: 'cron(0 24 * * ? *)' }, /hours value 24 is out of range 0–23/],
    ['day 32', { scheduleExpression: 'cron(0 10 32 * ? *)' }, /day-of-month value 32 is out of range 1–31/],
    ['month 13', { scheduleExpression: 'cron(0 10 * 13 ? *)' }, /month value 13 is out of range 1–12/],
    ['weekday 8', { scheduleExpression: 'cron(0 10 ? * 8 *)' }, /day-of-week value 8 is out of range 1–7/],
    ['unknown name', { scheduleExpression: 'cron(0 10 ? * FOO *)' }, /'FOO' is not a number or a name \(SUN–SAT\)/],
    ['minutes 15 (EventBridge example)', { scheduleExpression: 'cron(15 12 * * ? *)' }, /minutes must be 0/],
    ['every 15 minutes (EventBridge)', { scheduleExpression: 'cron(0/15 * * * ? *)' }, /minutes must be 0/],
    ['a year', { scheduleExpression: 'cron(0 10 * * ? 2026)' }, /year must be '\*'/],
    ['5 fields', { scheduleExpression: 'cron(0 10 * * ?)' }, /has 6 fields .* not 5/],
    ['L-2', { scheduleExpression: 'cron(0 10 L-2 * ? *)' }, /must stand alone/],
    ['LW', { scheduleExpression: 'cron(0 10 LW * ? *)' }, /must stand alone/],
    ['L in a list', { scheduleExpression: 'cron(0 10 1,L * ? *)' }, /must stand alone/],
    ['#6', { scheduleExpression: 'cron(0 10 ? * 1#6 *)' }, /#1 to #5/],
    ['two # expressions', { scheduleExpression: 'cron(0 10 ? * 2#1,6#3 *)' }, /must stand alone/],
    ['nL in a list', { scheduleExpression: 'cron(0 10 ? * 5L,6 *)' }, /must stand alone/],
    ['/ in day-of-week', { scheduleExpression: 'cron(0 10 ? * MON/2 *)' }, /day-of-week does not accept '\/'/],
    ['# in day-of-month', { scheduleExpression: 'cron(0 10 1#2 * ? *)' }, /day-of-month does not accept '#'/],
    ['W in hours', { scheduleExpression: 'cron(0 1W * * ? *)' }, /hours does not accept/],
    ['backwards range', { scheduleExpression: 'cron(0 10-5 * * ? *)' }, /range '10-5' runs backwards/],
    ['increment 0', { scheduleExpression: 'cron(0 0/0 * * ? *)' }, /increment '0' must be a whole number/],
    ['empty list item', { scheduleExpression: 'cron(0 10 1,,2 * ? *)' }, /empty list item/],
    ['hourly', { scheduleExpression: 'cron(0 * * * ? *)' }, /at least 4 hours apart/],
    ['2 hours across midnight', { scheduleExpression: 'cron(0 0,22 * * ? *)' }, /at least 4 hours apart/],
    ['29 February', { scheduleExpression: 'cron(0 0 29 FEB ? *)' }, /at least once a year/],
    ['fifth Monday of February', { scheduleExpression: 'cron(0 0 ? FEB MON#5 *)' }, /at least once a year/],
    ['30 February', { scheduleExpression: 'cron(0 0 30 FEB ? *)' }, /never matches a date/],
    ['window past midnight', { scheduleExpression: 'cron(0 10 * * ? *)', duration: '15h' }, /end of the UTC day/],
    ['window into next', { scheduleExpression: 'cron(0 0,8 * * ? *)', duration: '9h' }, /into the next window/],
    ['window > rate', { scheduleExpression: 'rate(6 hours)', duration: '7h' }, /longer than the interval/],
    ['30m', { automaticallyAfterDays: 1, duration: '30m' }, /duration must be whole hours/],
    ['0h', { automaticallyAfterDays: 1, duration: '0h' }, /duration must be whole hours/],
    ['25h', { automaticallyAfterDays: 1, duration: '25h' }, /duration must be whole hours/],
    ['03h', { automaticallyAfterDays: 1, duration: '03h' }, /duration must be whole hours/],
    ['unknown key', { automaticallyAfterDays: 1, rotateNow: true }, /do not accept rotateNow/],
    ['expression not a string', { scheduleExpression: 42 }, /scheduleExpression must be a string/],
    ['too long', { scheduleExpression: `cron(0 0 ${'1,'.repeat(130)}1 * ? *)` }, /at most 256 characters/],
    ['not an object', 'rate(1 day)', /rotation rules must be an object/],
  ])('refuses %s', (_label, input, message) => {
    expect(() => parseRotationRules(input)).toThrow(ValidationError);
    expect(() => parseRotationRules(input)).toThrow(message);
  });

  it('puts each issue on the field it is about', () => {
    const paths = (input: unknown) => RotationRulesSchema.safeParse(input).error?.issues.map((issue) => issue.path);
    expect(paths({ scheduleExpression: 'cron(0 10 * * * *)' })).toEqual([['scheduleExpression']]);
    expect(paths({ automaticallyAfterDays: 1, duration: '90m' })).toEqual([['duration']]);
    expect(paths({ scheduleExpression: 'rate(2 hours)', duration: 'x' })).toEqual([
      ['scheduleExpression'],
      ['duration'],
    ]);
  });
});

describe('Function: nextRotationAt', () => {
  const now = utc(2026, 3, 10, 12);

  it('counts automaticallyAfterDays from the last rotation', () => {
    expect(nextRotationAt({ automaticallyAfterDays: 30 }, utc(2026, 1, 15, 7), now)).toBe(utc(2026, 2, 14, 7));
  });

  it('counts a rate in hours or days from the last rotation', () => {
    expect(nextRotationAt({ scheduleExpression: 'rate(12 hours)' }, utc(2026, 3, 9, 20), now)).toBe(
      utc(2026, 3, 10, 8),
    );
    expect(nextRotationAt({ scheduleExpression: 'rate(1 day)' }, utc(2026, 12, 31, 6), now)).toBe(utc(2027, 1, 1, 6));
  });

  it('makes a never-rotated secret with an interval rule due at once', () => {
    expect(nextRotationAt({ automaticallyAfterDays: 90 }, undefined, now)).toBe(now);
    expect(nextRotationAt({ scheduleExpression: 'rate(7 days)' }, undefined, now)).toBe(now);
  });

  it('gives a never-rotated secret with a cron rule the next cron time after now', () => {
    expect(iso(nextRotationAt({ scheduleExpression: 'cron(0 4 * * ? *)' }, undefined, now))).toBe(
      '2026-03-11T04:00:00.000Z',
    );
  });

  it.each([
    ['across a month', 'cron(0 4 1 * ? *)', utc(2026, 1, 15), '2026-02-01T04:00:00.000Z'],
    ['across a year', 'cron(0 0 1 JAN ? *)', utc(2026, 6, 1), '2027-01-01T00:00:00.000Z'],
    ['from a firing time', 'cron(0 23 L DEC ? *)', utc(2026, 12, 31, 23), '2027-12-31T23:00:00.000Z'],
    ['L in February', 'cron(0 16 L * ? *)', utc(2026, 2, 1), '2026-02-28T16:00:00.000Z'],
    ['L in a leap February', 'cron(0 16 L * ? *)', utc(2028, 2, 1), '2028-02-29T16:00:00.000Z'],
    ['30 skips February', 'cron(0 0 30 * ? *)', utc(2026, 2, 1), '2026-03-30T00:00:00.000Z'],
    ['15W on a Saturday', 'cron(0 0 15W * ? *)', utc(2026, 8, 1), '2026-08-14T00:00:00.000Z'],
    ['1W on a Saturday', 'cron(0 0 1W * ? *)', utc(2026, 7, 2), '2026-08-03T00:00:00.000Z'],
    ['31W on a Sunday', 'cron(0 0 31W * ? *)', utc(2026, 5, 1), '2026-05-29T00:00:00.000Z'],
    ['31W skips February', 'cron(0 0 31W * ? *)', utc(2026, 2, 1), '2026-03-31T00:00:00.000Z'],
    ['first Sunday', 'cron(0 0 ? * SUN#1 *)', utc(2026, 1, 1), '2026-01-04T00:00:00.000Z'],
    ['first Monday', 'cron(0 9 ? * 2#1 *)', utc(2026, 1, 5, 10), '2026-02-02T09:00:00.000Z'],
    ['last Friday', 'cron(0 12 ? * 6L *)', utc(2026, 1, 31), '2026-02-27T12:00:00.000Z'],
    ['L as Saturday', 'cron(0 0 ? * L *)', utc(2026, 1, 1), '2026-01-03T00:00:00.000Z'],
    ['weekdays over a weekend', 'cron(0 18 ? * MON-FRI *)', utc(2026, 1, 30, 19), '2026-02-02T18:00:00.000Z'],
    ['hours later that day', 'cron(0 4/12 * * ? *)', utc(2026, 1, 1, 5), '2026-01-01T16:00:00.000Z'],
    ['hours into the next day', 'cron(0 4/12 * * ? *)', utc(2026, 1, 1, 17), '2026-01-02T04:00:00.000Z'],
    ['quarterly', 'cron(0 0 1 JAN,APR,JUL,OCT ? *)', utc(2026, 10, 1, 0, 30), '2027-01-01T00:00:00.000Z'],
  ])('cron %s: %s after %s', (_label, expression, lastRotatedAt, expected) => {
    expect(iso(nextRotationAt({ scheduleExpression: expression }, lastRotatedAt, now))).toBe(expected);
  });

  it('refuses invalid rules', () => {
    expect(() => nextRotationAt({}, undefined, now)).toThrow(ValidationError);
    expect(() => nextRotationAt({ scheduleExpression: 'cron(0 * * * ? *)' }, undefined, now)).toThrow(
      /at least 4 hours apart/,
    );
  });

  it('property: the next cron time is after the start, fires, and nothing fires in between', () => {
    const hour = fc.integer({ min: 0, max: 23 });
    const hours = fc.oneof(
      hour.map(String),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 12 })).map(([h, s]) => `${h}/${s}`),
      fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 4, max: 14 })).map(([h, g]) => `${h},${h + g}`),
    );
    const dayOfMonth = fc.oneof(
      fc.constant('*'),
      fc.constant('L'),
      fc.integer({ min: 1, max: 31 }).map(String),
      fc.integer({ min: 1, max: 31 }).map((d) => `${d}W`),
      fc.tuple(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 1, max: 10 })).map(([d, s]) => `${d}/${s}`),
      fc.tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 15 })).map(([d, n]) => `${d}-${d + n}`),
    );
    const weekday = fc.oneof(
      fc.integer({ min: 1, max: 7 }).map(String),
      fc.constantFrom('SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'),
    );
    const dayOfWeek = fc.oneof(
      fc.constant('*'),
      fc.constant('L'),
      weekday,
      weekday.map((d) => `${d}L`),
      fc.tuple(weekday, fc.integer({ min: 1, max: 4 })).map(([d, n]) => `${d}#${n}`),
      fc.constant('MON-FRI'),
    );
    const month = fc.oneof(
      fc.constant('*'),
      fc.integer({ min: 1, max: 12 }).map(String),
      fc.constantFrom('JAN', 'FEB', 'JAN,JUL', 'MAR-MAY', '1/3'),
    );
    const days = fc.oneof(
      dayOfMonth.map((dom) => [dom, '?'] as const),
      dayOfWeek.map((dow) => ['?', dow] as const),
    );
    const expression = fc
      .tuple(hours, days, month)
      .map(([h, [dom, dow], m]) => `cron(0 ${h} ${dom} ${m} ${dow} *)`)
      .filter((e) => RotationRulesSchema.safeParse({ scheduleExpression: e }).success);
    const from = fc.integer({ min: utc(2000, 1, 1), max: utc(2090, 1, 1) });

    fc.assert(
      fc.property(expression, from, (e, start) => {
        const cron = parseAwsCron(e);
        const next = nextRotationAt({ scheduleExpression: e }, start, start + DAY);
        expect(next).toBeGreaterThan(start);
        expect(cronMatches(cron, next)).toBe(true);
        // Secrets Manager crons fire on the hour, so checking every hour in between proves nothing was skipped.
        let skipped: number | undefined;
        for (let at = (Math.floor(start / HOUR) + 1) * HOUR; at < next && skipped === undefined; at += HOUR) {
          if (cronMatches(cron, at)) skipped = at;
        }
        expect(skipped).toBeUndefined();
      }),
      { numRuns: 150 },
    );
  });

  it('property: an interval rule is due exactly one interval after the last rotation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: utc(2100, 1, 1) }), (days, last) => {
        expect(nextRotationAt({ automaticallyAfterDays: days }, last, last) - last).toBe(days * DAY);
      }),
    );
  });
});

describe('Function: windowEnd / isOverdue / isDue', () => {
  const due = utc(2026, 5, 4, 16);

  it.each<[string, RotationRules, number]>([
    ['a duration', { scheduleExpression: 'cron(0 16 * * ? *)', duration: '3h' }, due + 3 * HOUR],
    ['a days cron: the rest of the UTC day', { scheduleExpression: 'cron(0 16 * * ? *)' }, utc(2026, 5, 5)],
    ['an hours cron: one hour', { scheduleExpression: 'cron(0 4/12 * * ? *)' }, due + HOUR],
    ['a rate in hours: one hour', { scheduleExpression: 'rate(6 hours)' }, due + HOUR],
    ['a rate in days: one day', { scheduleExpression: 'rate(3 days)' }, due + DAY],
    ['automaticallyAfterDays: one day', { automaticallyAfterDays: 3 }, due + DAY],
    ['automaticallyAfterDays with a duration', { automaticallyAfterDays: 3, duration: '2h' }, due + 2 * HOUR],
  ])('ends the window of %s', (_label, rules, end) => {
    expect(windowEnd(rules, due)).toBe(end);
  });

  it('is overdue from the window end on, not inside the window', () => {
    const rules = { automaticallyAfterDays: 7, duration: '2h' };
    const end = windowEnd(rules, due);
    expect(isOverdue(rules, due, due - 1)).toBe(false);
    expect(isOverdue(rules, due, due)).toBe(false);
    expect(isOverdue(rules, due, end - 1)).toBe(false);
    expect(isOverdue(rules, due, end)).toBe(true);
    expect(isOverdue(rules, due, end + DAY)).toBe(true);
  });

  it('is due from the due time on', () => {
    expect(isDue(due, due - 1)).toBe(false);
    expect(isDue(due, due)).toBe(true);
  });

  it('property: a window opens at the due time and lasts from 1 to 24 hours', () => {
    const rules = fc.constantFrom<RotationRules>(
      { automaticallyAfterDays: 10 },
      { scheduleExpression: 'rate(8 hours)', duration: '4h' },
      { scheduleExpression: 'cron(0 0/6 * * ? *)' },
      { scheduleExpression: 'cron(0 23 L * ? *)' },
      { scheduleExpression: 'cron(0 0 ? * MON *)', duration: '24h' },
    );
    fc.assert(
      fc.property(rules, fc.integer({ min: 0, max: utc(2100, 1, 1) }), (r, start) => {
        const dueAt = nextRotationAt(r, start, start);
        expect(windowEnd(r, dueAt) - dueAt).toBeGreaterThanOrEqual(HOUR);
        expect(windowEnd(r, dueAt) - dueAt).toBeLessThanOrEqual(DAY);
      }),
    );
  });
});

describe('Function: toSchedulerExpression', () => {
  it.each<[RotationRules, string, number]>([
    [{ automaticallyAfterDays: 1 }, 'rate(1 day)', 1440],
    [{ automaticallyAfterDays: 30, duration: '2h' }, 'rate(30 days)', 120],
    [{ scheduleExpression: 'rate(1 days)' }, 'rate(1 day)', 1440],
    [{ scheduleExpression: 'rate(12 hour)' }, 'rate(12 hours)', 60],
    [{ scheduleExpression: 'rate(10 days)', duration: '5h' }, 'rate(10 days)', 300],
    [{ scheduleExpression: 'cron(0 16 * * ? *)' }, 'cron(0 16 * * ? *)', 480],
    [{ scheduleExpression: 'cron(0 0 ? * mon *)' }, 'cron(0 0 ? * MON *)', 1440],
    [{ scheduleExpression: 'cron(0 4/12 * * ? *)' }, 'cron(0 4/12 * * ? *)', 60],
    [{ scheduleExpression: 'cron(0  4/12 * * ? *)', duration: '3h' }, 'cron(0 4/12 * * ? *)', 180],
  ])('schedules %j as %s with a %i-minute window', (rules, expression, minutes) => {
    expect(toSchedulerExpression(rules)).toEqual({
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes },
    });
  });

  it('refuses invalid rules', () => {
    expect(() => toSchedulerExpression({ scheduleExpression: 'rate(2 hours)' })).toThrow(ValidationError);
  });
});
