import * as z from 'zod';
import { ValidationError } from './errors.ts';

/** Seconds per duration unit, largest first: components of a duration string must appear in this order. */
const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const UNIT_ORDER: readonly Unit[] = ['d', 'h', 'm', 's'];

/**
 * Longest duration accepted: 100 years. Anything longer is a typo, and the bound keeps `now + seconds * 1000` far
 * inside the safe-integer range.
 */
export const MAX_DURATION_SECONDS = 100 * 365 * 86_400;

const COMPONENT = /(\d+)([dhms])/y;

/**
 * Parses a TTL as Coffer's APIs accept it (the Vault-style subset that people actually type): a whole number of
 * seconds as a number or a string (`90`, `'90'`), or whole-number components with units in descending order
 * (`'90s'`, `'15m'`, `'1h30m'`, `'2d'`).
 *
 * Units must not repeat and must run from days down to seconds, so `'30m1h'` or `'1h1h'` — almost certainly typos —
 * are rejected rather than silently summed.
 *
 * @returns the duration in seconds (0 is allowed; callers that need a positive TTL check for it).
 * @throws ValidationError for negatives, fractions, unknown units, empty input or anything over 100 years.
 * @example parseDuration('1h30m') // 5400
 */
export function parseDuration(input: string | number): number {
  const seconds = typeof input === 'number' ? input : parseDurationText(input);
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new ValidationError(`invalid duration ${describe(input)}: expected a whole number of seconds ≥ 0`);
  }
  if (seconds > MAX_DURATION_SECONDS) {
    throw new ValidationError(`invalid duration ${describe(input)}: longer than ${MAX_DURATION_SECONDS} seconds`);
  }
  return seconds;
}

function parseDurationText(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const invalid = () =>
    new ValidationError(`invalid duration ${describe(text)}: expected seconds or e.g. '90s', '15m', '1h30m', '2d'`);
  let total = 0;
  let position = 0;
  let nextUnit = 0;
  COMPONENT.lastIndex = 0;
  while (position < text.length) {
    COMPONENT.lastIndex = position;
    const match = COMPONENT.exec(text);
    if (match === null) throw invalid();
    const unitIndex = UNIT_ORDER.indexOf(match[2] as Unit);
    if (unitIndex < nextUnit) throw invalid();
    total += Number(match[1]) * UNIT_SECONDS[match[2] as Unit];
    nextUnit = unitIndex + 1;
    position = COMPONENT.lastIndex;
  }
  if (position === 0) throw invalid();
  return total;
}

/** Quotes user input for an error message, bounded so a huge body cannot bloat logs. */
function describe(input: string | number): string {
  return typeof input === 'number' ? String(input) : JSON.stringify(input.slice(0, 40));
}

/**
 * A duration in a request or a setting, as `parseDuration` accepts it, validated and kept as given (`'1h30m'` stays a
 * string): for request types that are echoed or stored as the caller wrote them. The string bound keeps a huge body
 * out of error messages; a valid duration is never that long.
 */
export const DurationInputSchema = z
  .union([z.string({ error: 'must be a string or a number' }).max(32), z.number().int().nonnegative()])
  .superRefine((input, ctx) => {
    try {
      parseDuration(input);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid duration' });
    }
  });

/**
 * A duration parsed to whole seconds (0 allowed; a setting that needs a positive one refines it).
 * @example DurationSchema.parse('1h30m') // 5400
 */
export const DurationSchema = DurationInputSchema.transform((input) => parseDuration(input));
