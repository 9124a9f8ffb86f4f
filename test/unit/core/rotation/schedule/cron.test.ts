import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronMatches, nextCronTime, parseAwsCron } from '../../../../../lambdas/core/rotation/schedule/cron.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = (y: number, m: number, d: number, h = 0, min = 0) => Date.UTC(y, m - 1, d, h, min);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('Function: parseAwsCron', () => {
  it.each([
    // The EventBridge cron examples: valid EventBridge syntax even where Secrets Manager refuses them.
    ['cron(0 10 * * ? *)', [0], [10]],
    ['cron(15 12 * * ? *)', [15], [12]],
    ['cron(0 18 ? * MON-FRI *)', [0], [18]],
    ['cron(0 8 1 * ? *)', [0], [8]],
    ['cron(0/15 * * * ? *)', [0, 15, 30, 45], Array.from({ length: 24 }, (_, h) => h)],
    ['cron(0/10 * ? * MON-FRI *)', [0, 10, 20, 30, 40, 50], Array.from({ length: 24 }, (_, h) => h)],
    [
      'cron(0/5 8-17 ? * MON-FRI *)',
      Array.from({ length: 12 }, (_, i) => i * 5),
      [8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    ],
    ['cron(0 9 ? * 2#1 *)', [0], [9]],
  ])('parses the EventBridge example %s', (expression, minutes, hours) => {
    const cron = parseAwsCron(expression);
    expect(cron.minutes).toEqual(minutes);
    expect(cron.hours).toEqual(hours);
  });

  it('reads names, increments and specials into their meaning', () => {
    const weekdays = parseAwsCron('cron(0 18 ? * mon-fri *)');
    expect(weekdays.expression).toBe('cron(0 18 ? * MON-FRI *)');
    expect(weekdays.dayOfWeek).toEqual({ kind: 'weekdays', weekdays: new Set([2, 3, 4, 5, 6]) });
    expect([...parseAwsCron('cron(0 0 1 JAN/3 ? *)').months]).toEqual([1, 4, 7, 10]);
    expect(parseAwsCron('cron(0 0 ? * SUN#1 *)').dayOfWeek).toEqual({ kind: 'nth', weekday: 1, nth: 1 });
    expect(parseAwsCron('cron(0 0 ? * 6L *)').dayOfWeek).toEqual({ kind: 'lastOfMonth', weekday: 6 });
    expect(parseAwsCron('cron(0 0 15W * ? *)').dayOfMonth).toEqual({ kind: 'nearestWeekday', day: 15 });
    expect(parseAwsCron('cron(0 0 L * ? *)').dayOfMonth).toEqual({ kind: 'last' });
    expect([...parseAwsCron('cron(0 0 1 * ? 2026-2028)').years]).toEqual([2026, 2027, 2028]);
  });

  it('refuses what is not a cron expression, naming the field given', () => {
    expect(() => parseAwsCron('0 10 * * ? *', 'schedule')).toThrow(/^schedule: a cron expression must look like/);
    expect(() => parseAwsCron('cron(0 10 * * ? 1969)')).toThrow(/year value 1969 is out of range 1970–2199/);
  });
});

describe('Function: cronMatches', () => {
  const lastDay = parseAwsCron('cron(0 16 L * ? *)');

  it('matches the last day of each month, leap years included', () => {
    expect(cronMatches(lastDay, utc(2026, 2, 28, 16))).toBe(true);
    expect(cronMatches(lastDay, utc(2028, 2, 28, 16))).toBe(false);
    expect(cronMatches(lastDay, utc(2028, 2, 29, 16))).toBe(true);
    expect(cronMatches(lastDay, utc(2026, 4, 30, 16))).toBe(true);
  });

  it('matches only whole minutes of the right hour', () => {
    expect(cronMatches(lastDay, utc(2026, 2, 28, 15))).toBe(false);
    expect(cronMatches(lastDay, utc(2026, 2, 28, 16) + 1)).toBe(false);
  });

  it('moves nW to the nearest weekday without leaving the month', () => {
    const day1 = parseAwsCron('cron(0 0 1W * ? *)');
    expect(cronMatches(day1, utc(2026, 8, 3))).toBe(true); // 1 Aug 2026 is a Saturday: Monday the 3rd
    expect(cronMatches(day1, utc(2026, 7, 31))).toBe(false);
    const day31 = parseAwsCron('cron(0 0 31W * ? *)');
    expect(cronMatches(day31, utc(2026, 5, 29))).toBe(true); // 31 May 2026 is a Sunday: Friday the 29th
    expect(cronMatches(day31, utc(2026, 4, 30))).toBe(false); // April has no 31st
  });
});

describe('Function: nextCronTime', () => {
  it.each([
    // Cases where aws-cron-parser, which this engine replaced, answered a day that does not fire or threw.
    ['30 skips February', 'cron(0 0 30 * ? *)', utc(2026, 2, 1), '2026-03-30T00:00:00.000Z'],
    ['31 skips 30-day months', 'cron(0 0 31 * ? *)', utc(2026, 4, 12), '2026-05-31T00:00:00.000Z'],
    ['31W skips 30-day months', 'cron(0 0 31W * ? *)', utc(2026, 4, 1), '2026-05-29T00:00:00.000Z'],
    ['a fifth Friday months away', 'cron(0 0 ? * 6#5 *)', utc(2026, 1, 31), '2026-05-29T00:00:00.000Z'],
    // Quartz/EventBridge semantics of the special characters.
    ['1W on a Sunday: Monday the 2nd', 'cron(0 0 1W * ? *)', utc(2026, 1, 15), '2026-02-02T00:00:00.000Z'],
    ['1W on a Saturday: Monday the 3rd', 'cron(0 0 1W * ? *)', utc(2026, 7, 2), '2026-08-03T00:00:00.000Z'],
    ['last day a Sunday, nW: the Friday before', 'cron(0 0 31W JAN ? *)', utc(2026, 6, 1), '2027-01-29T00:00:00.000Z'],
    ['L in a century February (2100 is not leap)', 'cron(0 0 L FEB ? *)', utc(2099, 3, 1), '2100-02-28T00:00:00.000Z'],
    ['nL: last Friday', 'cron(0 12 ? * FRIL *)', utc(2026, 1, 1), '2026-01-30T12:00:00.000Z'],
    ['L alone in day-of-week: Saturday', 'cron(0 0 ? * L *)', utc(2026, 8, 2), '2026-08-08T00:00:00.000Z'],
    ['minutes within the hour', 'cron(0/15 * * * ? *)', utc(2026, 1, 1, 10, 7), '2026-01-01T10:15:00.000Z'],
    ['strictly after a firing time', 'cron(0/15 * * * ? *)', utc(2026, 1, 1, 10, 15), '2026-01-01T10:30:00.000Z'],
    ['a year field', 'cron(0 0 1 1 ? 2027)', utc(2026, 6, 1), '2027-01-01T00:00:00.000Z'],
    ['a year already past', 'cron(0 0 1 1 ? 2027)', utc(2027, 1, 1), undefined],
  ])('%s: %s after %s', (_label, expression, from, expected) => {
    expect(iso(nextCronTime(parseAwsCron(expression), from))).toBe(expected);
  });

  /**
   * An oracle for the day fields written from the documented meaning, not from the engine's arithmetic: it lists
   * the month's days (weekdays from `Date`) and picks from that list.
   */
  function firesOn(dom: string, dow: string, year: number, month: number, day: number): boolean {
    const length = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const days = Array.from({ length }, (_, i) => ({
      day: i + 1,
      weekday: new Date(Date.UTC(year, month - 1, i + 1)).getUTCDay() + 1,
    }));
    const names = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
    const weekdayOf = (text: string) => (names.includes(text) ? names.indexOf(text) + 1 : Number(text));
    if (dom !== '?') {
      if (dom === '*') return true;
      if (dom === 'L') return day === length;
      if (dom.endsWith('W')) {
        const target = Number(dom.slice(0, -1));
        if (target > length) return false;
        // The weekday of the month nearest to the target (never two at the same distance: the target would be one).
        const weekdays = days.filter((d) => d.weekday >= 2 && d.weekday <= 6);
        const nearest = weekdays.reduce((a, b) => (Math.abs(b.day - target) < Math.abs(a.day - target) ? b : a));
        return day === nearest.day;
      }
      return Number(dom) === day;
    }
    if (dow === 'L') return days[day - 1]?.weekday === 7;
    const nth = /^(\w+)#(\d)$/.exec(dow);
    if (nth) return days.filter((d) => d.weekday === weekdayOf(nth[1] ?? ''))[Number(nth[2]) - 1]?.day === day;
    const last = /^(\w+)L$/.exec(dow);
    if (last) return days.filter((d) => d.weekday === weekdayOf(last[1] ?? '')).at(-1)?.day === day;
    return days[day - 1]?.weekday === weekdayOf(dow);
  }

  it('property: agrees with an oracle written from the documented meaning of L, W and #', () => {
    const weekday = fc.oneof(fc.integer({ min: 1, max: 7 }).map(String), fc.constantFrom('SUN', 'WED', 'SAT'));
    const days = fc.oneof(
      fc.constantFrom('*', 'L').map((dom) => [dom, '?'] as const),
      fc.integer({ min: 1, max: 31 }).map((d) => [String(d), '?'] as const),
      fc.integer({ min: 1, max: 31 }).map((d) => [`${d}W`, '?'] as const),
      fc.constant(['?', 'L'] as const),
      weekday.map((d) => ['?', d] as const),
      weekday.map((d) => ['?', `${d}L`] as const),
      fc.tuple(weekday, fc.integer({ min: 1, max: 5 })).map(([d, n]) => ['?', `${d}#${n}`] as const),
    );
    const expression = fc
      .tuple(
        fc.constantFrom('0', '30', '0/20'),
        fc.constantFrom('0', '7', '0/6', '23'),
        days,
        fc.constantFrom('*', 'FEB', 'JAN,JUL', '2/5'),
      )
      .map(([min, h, [dom, dow], m]) => ({ dom, dow, text: `cron(${min} ${h} ${dom} ${m} ${dow} *)` }));
    // Never in a day's last minutes, so the engine's search and the oracle's start on the same day.
    const from = fc
      .tuple(fc.integer({ min: utc(1999, 1, 1) / HOUR, max: utc(2101, 1, 1) / HOUR }), fc.nat(58 * 60_000 - 1))
      .map(([hours, offset]) => hours * HOUR + offset);

    fc.assert(
      fc.property(expression, from, ({ dom, dow, text }, start) => {
        const cron = parseAwsCron(text);
        let expected: number | undefined;
        const firstDay = Math.floor(start / DAY) * DAY;
        for (let at = firstDay; expected === undefined && at <= firstDay + 367 * DAY; at += DAY) {
          const date = new Date(at);
          const [year, month, day] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
          if (!cron.months.has(month) || !firesOn(dom, dow, year, month, day)) continue;
          const times = cron.hours.flatMap((h) => cron.minutes.map((m) => at + h * HOUR + m * 60_000));
          expected = times.find((time) => time > start);
        }
        expect(iso(nextCronTime(cron, start))).toBe(iso(expected));
      }),
      { numRuns: 300 },
    );
  });
});
