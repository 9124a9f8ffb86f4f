import { randomInt } from 'node:crypto';
import { ValidationError } from '../../../core/errors.ts';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/** The punctuation AWS's GetRandomPassword draws from. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export interface RandomPasswordOptions {
  readonly length?: number | undefined;
  readonly excludeCharacters?: string | undefined;
  readonly excludeNumbers?: boolean | undefined;
  readonly excludePunctuation?: boolean | undefined;
  readonly excludeUppercase?: boolean | undefined;
  readonly excludeLowercase?: boolean | undefined;
  readonly includeSpace?: boolean | undefined;
  /** @default true */
  readonly requireEachIncludedType?: boolean | undefined;
}

/**
 * AWS GetRandomPassword: 32 characters by default, from a CSPRNG (`crypto.randomInt`, no modulo bias), with at least
 * one character of each included class unless `requireEachIncludedType` is false.
 */
export function randomPassword(options: RandomPasswordOptions = {}): string {
  const length = options.length ?? 32;
  const excluded = new Set(options.excludeCharacters ?? '');
  const classes = [
    options.excludeLowercase === true ? '' : LOWER,
    options.excludeUppercase === true ? '' : UPPER,
    options.excludeNumbers === true ? '' : DIGITS,
    options.excludePunctuation === true ? '' : PUNCTUATION,
    options.includeSpace === true ? ' ' : '',
  ]
    .map((chars) => [...chars].filter((c) => !excluded.has(c)).join(''))
    .filter((chars) => chars.length > 0);
  if (classes.length === 0) throw new ValidationError('The password cannot be made: every character is excluded.');
  const requireEach = options.requireEachIncludedType ?? true;
  if (requireEach && length < classes.length) {
    throw new ValidationError(
      `PasswordLength ${length} is too short to include a character of each of the ${classes.length} included types.`,
    );
  }
  const all = classes.join('');
  const chars: string[] = [];
  if (requireEach) for (const set of classes) chars.push(pick(set));
  while (chars.length < length) chars.push(pick(all));
  // Fisher–Yates, so the guaranteed characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

function pick(set: string): string {
  return set[randomInt(set.length)]!;
}
