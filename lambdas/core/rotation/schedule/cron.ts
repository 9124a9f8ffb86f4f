/**
 * AWS cron expressions (EventBridge's 6-field syntax, UTC): parsing, matching a time, and the next firing time.
 * Pure functions: time is always passed in (epoch ms).
 *
 * One engine, written here rather than taken from a library: the next firing time is a walk over calendar days
 * that tests each day with the same `dayMatches` that `cronMatches` uses, so it cannot disagree with the matcher.
 * aws-cron-parser, used before, skipped to wrong days (`30` rolled from February into 2 March) and threw on `31W`
 * in a short month and on some `#5`.
 *
 * Choices where EventBridge's documentation is silent or Secrets Manager's guide differs:
 * - Day-of-week does not accept `/` (the Secrets Manager guide lists it, EventBridge, which runs the schedule on
 *   AWS, does not). `L-n` and `LW` are refused: EventBridge does not document them.
 * - `L` alone in day-of-week is its last day, Saturday.
 * - `nW` for a day the month lacks (`31W` in April) matches nothing that month, as `31` does; otherwise it moves to
 *   the nearest weekday without leaving the month (`1W` on a Saturday is Monday the 3rd).
 */
import { ValidationError } from '../../errors.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Day-of-month: `?`, a set of days, `L` (last day) or `nW` (weekday nearest to day n, within the month). */
export type CronDayOfMonth =
  | { readonly kind: 'any' }
  | { readonly kind: 'days'; readonly days: ReadonlySet<number> }
  | { readonly kind: 'last' }
  | { readonly kind: 'nearestWeekday'; readonly day: number };

/** Day-of-week (1 = SUN … 7 = SAT): `?`, a set, `nL` (last such weekday of the month) or `n#k` (k-th one). */
export type CronDayOfWeek =
  | { readonly kind: 'any' }
  | { readonly kind: 'weekdays'; readonly weekdays: ReadonlySet<number> }
  | { readonly kind: 'lastOfMonth'; readonly weekday: number }
  | { readonly kind: 'nth'; readonly weekday: number; readonly nth: number };

/** A validated AWS cron expression. */
export interface CronSchedule {
  /** Canonical form: `cron(...)`, fields separated by one space, names and letters upper case. */
  readonly expression: string;
  /** The six fields as written (upper case). */
  readonly fields: readonly [string, string, string, string, string, string];
  /** Sorted ascending. */
  readonly minutes: readonly number[];
  /** Sorted ascending. */
  readonly hours: readonly number[];
  readonly dayOfMonth: CronDayOfMonth;
  readonly months: ReadonlySet<number>;
  readonly dayOfWeek: CronDayOfWeek;
  readonly years: ReadonlySet<number>;
}

interface FieldDef {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MINUTES: FieldDef = { label: 'minutes', min: 0, max: 59 };
const HOURS: FieldDef = { label: 'hours', min: 0, max: 23 };
const DAY_OF_MONTH: FieldDef = { label: 'day-of-month', min: 1, max: 31 };
const MONTHS: FieldDef = {
  label: 'month',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
};
const DAY_OF_WEEK: FieldDef = {
  label: 'day-of-week',
  min: 1,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
};
const YEARS: FieldDef = { label: 'year', min: 1970, max: 2199 };

/** A syntax problem in one field; turned into a message naming the schedule field. */
class CronSyntaxError extends Error {}

function parseValue(token: string, def: FieldDef): number {
  if (def.names) {
    const index = def.names.indexOf(token);
    if (index >= 0) return def.min + index;
  }
  if (!/^\d{1,4}$/.test(token)) {
    const names = def.names ? ` or a name (${def.names[0]}–${def.names[def.names.length - 1]})` : '';
    throw new CronSyntaxError(`${def.label} value '${token}' is not a number${names}`);
  }
  const value = Number(token);
  if (value < def.min || value > def.max) {
    throw new CronSyntaxError(`${def.label} value ${value} is out of range ${def.min}–${def.max}`);
  }
  return value;
}

/** `*`, `a`, `a-b`, `*\/s`, `a/s`, `a-b/s`, comma-separated. Returns the sorted distinct values. */
function parseList(field: string, def: FieldDef): number[] {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    if (item === '') throw new CronSyntaxError(`${def.label} has an empty list item`);
    const parts = item.split('/');
    if (parts.length > 2) throw new CronSyntaxError(`${def.label} item '${item}' has more than one '/'`);
    const [range = '', stepText] = parts;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,4}$/.test(stepText) || Number(stepText) < 1 || Number(stepText) > def.max) {
        throw new CronSyntaxError(`${def.label} increment '${stepText}' must be a whole number from 1 to ${def.max}`);
      }
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (range === '*') {
      low = def.min;
      high = def.max;
    } else if (range.includes('-')) {
      const bounds = range.split('-');
      if (bounds.length !== 2) throw new CronSyntaxError(`${def.label} range '${range}' is not of the form a-b`);
      low = parseValue(bounds[0] ?? '', def);
      high = parseValue(bounds[1] ?? '', def);
      if (low > high) throw new CronSyntaxError(`${def.label} range '${range}' runs backwards`);
    } else {
      low = parseValue(range, def);
      high = stepText === undefined ? low : def.max;
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

function parseDayOfMonth(field: string): CronDayOfMonth {
  if (field === '?') return { kind: 'any' };
  if (field === 'L') return { kind: 'last' };
  const weekday = /^(\d{1,2})W$/.exec(field);
  if (weekday) return { kind: 'nearestWeekday', day: parseValue(weekday[1] ?? '', DAY_OF_MONTH) };
  if (field.includes('#')) throw new CronSyntaxError("day-of-month does not accept '#' (day-of-week only)");
  if (/[LW?]/.test(field)) {
    throw new CronSyntaxError("day-of-month: '?', 'L' and 'nW' must stand alone (as in 'L' or '15W')");
  }
  return { kind: 'days', days: new Set(parseList(field, DAY_OF_MONTH)) };
}

function parseDayOfWeek(field: string): CronDayOfWeek {
  if (field === '?') return { kind: 'any' };
  // `L` alone is the last day of the week: Saturday.
  if (field === 'L') return { kind: 'weekdays', weekdays: new Set([7]) };
  const last = /^([0-9A-Z]+)L$/.exec(field);
  if (last) return { kind: 'lastOfMonth', weekday: parseValue(last[1] ?? '', DAY_OF_WEEK) };
  const nth = /^([0-9A-Z]+)#(\d+)$/.exec(field);
  if (nth) {
    const k = Number(nth[2]);
    if (k < 1 || k > 5) throw new CronSyntaxError(`day-of-week '#${nth[2]}' must be from #1 to #5`);
    return { kind: 'nth', weekday: parseValue(nth[1] ?? '', DAY_OF_WEEK), nth: k };
  }
  if (field.includes('/')) throw new CronSyntaxError("day-of-week does not accept '/'");
  // No day name contains L, so any L, # or ? left here is mixed into a list or range.
  if (/[L#?]/.test(field)) throw new CronSyntaxError("day-of-week: '?', 'L', 'nL' and 'n#k' must stand alone");
  return { kind: 'weekdays', weekdays: new Set(parseList(field, DAY_OF_WEEK)) };
}

function parseSimple(field: string, def: FieldDef): number[] {
  const withoutNames = def.names ? field.replace(new RegExp(def.names.join('|'), 'g'), '') : field;
  if (/[?LW#]/.test(withoutNames)) {
    throw new CronSyntaxError(`${def.label} does not accept '?', 'L', 'W' or '#'`);
  }
  return parseList(field, def);
}

/**
 * Parses and validates an AWS cron expression (`cron(min hour dom month dow year)`, EventBridge syntax).
 * Names (JAN, MON) are accepted in any case. Exactly one of day-of-month and day-of-week must be `?`.
 *
 * @throws ValidationError naming `field` and the rule broken.
 * @example
 * ```ts
 * parseAwsCron('cron(0 10 ? * MON-FRI *)').hours; // [10]
 * parseAwsCron('cron(0 10 * * * *)'); // throws: one of day-of-month and day-of-week must be '?'
 * ```
 */
export function parseAwsCron(expression: string, field = 'scheduleExpression'): CronSchedule {
  const problem = cronProblem(expression);
  if (typeof problem === 'string') throw new ValidationError(`${field}: ${problem}`);
  return problem;
}

/** As `parseAwsCron`, but returns the problem as a message (without a field name) instead of throwing. */
export function cronProblem(expression: string): CronSchedule | string {
  const match = /^cron\((.*)\)$/s.exec(expression);
  if (!match) return "a cron expression must look like 'cron(0 10 * * ? *)'";
  const fields = (match[1] ?? '').trim().toUpperCase().split(/\s+/);
  if (fields.length !== 6) {
    return `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not ${fields.length}`;
  }
  const [min = '', hour = '', dom = '', month = '', dow = '', year = ''] = fields;
  try {
    const dayOfMonth = parseDayOfMonth(dom);
    const dayOfWeek = parseDayOfWeek(dow);
    if (dayOfMonth.kind === 'any' && dayOfWeek.kind === 'any') {
      return "only one of day-of-month and day-of-week may be '?'";
    }
    if (dayOfMonth.kind !== 'any' && dayOfWeek.kind !== 'any') {
      return "one of day-of-month and day-of-week must be '?'";
    }
    return {
      expression: `cron(${fields.join(' ')})`,
      fields: [min, hour, dom, month, dow, year],
      minutes: parseSimple(min, MINUTES),
      hours: parseSimple(hour, HOURS),
      dayOfMonth,
      months: new Set(parseSimple(month, MONTHS)),
      dayOfWeek,
      years: new Set(parseSimple(year, YEARS)),
    };
  } catch (error) {
    if (error instanceof CronSyntaxError) return error.message;
    throw error;
  }
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (MONTH_DAYS[month - 1] ?? 31);
}

/** A calendar day as the matcher needs it: `weekday` is 1 = Sunday … 7 = Saturday, as AWS numbers them. */
export interface CivilDay {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
}

export function civilDay(dayStartMs: number): CivilDay {
  const date = new Date(dayStartMs);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    weekday: date.getUTCDay() + 1,
  };
}

/** The weekday (1–7) of `day` in a month whose day `known` falls on `knownWeekday`. */
function weekdayInMonth(day: number, known: number, knownWeekday: number): number {
  return ((((knownWeekday - 1 + day - known) % 7) + 7) % 7) + 1;
}

function nearestWeekday(target: number, on: CivilDay): number | undefined {
  const last = daysInMonth(on.year, on.month);
  if (target > last) return undefined;
  const weekday = weekdayInMonth(target, on.day, on.weekday);
  if (weekday === 7) return target > 1 ? target - 1 : target + 2; // Saturday: the Friday before, or Monday the 3rd
  if (weekday === 1) return target < last ? target + 1 : target - 2; // Sunday: the Monday after, or the Friday before
  return target;
}

/** True when the cron fires on `on` (year, month and day fields), at whichever hours and minutes. */
export function dayMatches(cron: CronSchedule, on: CivilDay): boolean {
  if (!cron.years.has(on.year) || !cron.months.has(on.month)) return false;
  const dom = cron.dayOfMonth;
  switch (dom.kind) {
    case 'days':
      return dom.days.has(on.day);
    case 'last':
      return on.day === daysInMonth(on.year, on.month);
    case 'nearestWeekday':
      return on.day === nearestWeekday(dom.day, on);
    case 'any':
      break;
  }
  const dow = cron.dayOfWeek;
  switch (dow.kind) {
    case 'weekdays':
      return dow.weekdays.has(on.weekday);
    case 'lastOfMonth':
      return on.weekday === dow.weekday && on.day + 7 > daysInMonth(on.year, on.month);
    case 'nth':
      return on.weekday === dow.weekday && Math.ceil(on.day / 7) === dow.nth;
    case 'any':
      return false;
  }
}

/**
 * True when `at` (epoch ms) is a time the cron expression fires: a whole minute whose UTC fields all match.
 *
 * @example
 * ```ts
 * cronMatches(parseAwsCron('cron(0 16 L * ? *)'), Date.UTC(2026, 1, 28, 16)); // true: last day of February
 * ```
 */
export function cronMatches(cron: CronSchedule, at: number): boolean {
  if (at % MINUTE_MS !== 0) return false;
  const dayStart = Math.floor(at / DAY_MS) * DAY_MS;
  const minuteOfDay = (at - dayStart) / MINUTE_MS;
  return (
    cron.minutes.includes(minuteOfDay % 60) &&
    cron.hours.includes(Math.floor(minuteOfDay / 60)) &&
    dayMatches(cron, civilDay(dayStart))
  );
}

/** Validated Secrets Manager schedules match at least once a year, so a year and a day always finds the next. */
const SEARCH_DAYS = 367;

/**
 * The first firing time strictly after `from` (epoch ms), or undefined if there is none within a year and a day.
 *
 * @example
 * ```ts
 * nextCronTime(parseAwsCron('cron(0 0 30 * ? *)'), Date.UTC(2026, 1, 1)); // 2026-03-30T00:00Z: February has no 30th
 * ```
 */
export function nextCronTime(cron: CronSchedule, from: number): number | undefined {
  const start = (Math.floor(from / MINUTE_MS) + 1) * MINUTE_MS;
  const firstDay = Math.floor(start / DAY_MS) * DAY_MS;
  for (let i = 0; i <= SEARCH_DAYS; i += 1) {
    const dayStart = firstDay + i * DAY_MS;
    if (!dayMatches(cron, civilDay(dayStart))) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const at = dayStart + hour * HOUR_MS + minute * MINUTE_MS;
        if (at >= start) return at;
      }
    }
  }
  return undefined;
}
