import { randomInt } from 'node:crypto';
import { ValidationError } from '../errors.ts';

export const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
export const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const DIGITS = '0123456789';

/** A set of characters a password draws from, and how many of them it must hold at least. */
export interface CharacterClass {
  readonly characters: string;
  /** @default 0 */
  readonly min?: number | undefined;
}

export interface PasswordOptions {
  readonly length: number;
  /** Every character comes from one of these; the characters beyond the minimums are uniform over all of them. */
  readonly classes: readonly CharacterClass[];
  /** Characters never used, whatever class they are in. A class left empty is dropped, its minimum with it. */
  readonly exclude?: string | undefined;
  /**
   * A uniform integer in `[0, bound)`. Injectable so tests can drive the draws.
   * @default crypto.randomInt, which rejects draws beyond the largest multiple of `bound` (no modulo bias)
   */
  readonly randomIndex?: ((bound: number) => number) | undefined;
}

/**
 * The classes a password is drawn from once `exclude` is applied: excluded characters removed, empty classes dropped.
 * Callers that must refuse a request before generating (too short, nothing left) check this.
 */
export function passwordClasses(classes: readonly CharacterClass[], exclude = ''): CharacterClass[] {
  const excluded = new Set(exclude);
  return classes
    .map((c) => ({ characters: [...c.characters].filter((ch) => !excluded.has(ch)).join(''), min: c.min ?? 0 }))
    .filter((c) => c.characters.length > 0);
}

/**
 * A random password: `min` characters of each class, the rest uniform over the union of the classes, then shuffled
 * (Fisher–Yates) so the guaranteed characters are not always first. Every draw is from a CSPRNG without bias.
 * @example generatePassword({ length: 32, classes: [{ characters: LOWERCASE, min: 1 }, { characters: DIGITS, min: 1 }] })
 */
export function generatePassword(options: PasswordOptions): string {
  const random = options.randomIndex ?? randomInt;
  const classes = passwordClasses(options.classes, options.exclude);
  if (classes.length === 0) throw new ValidationError('the password cannot be made: every character is excluded');
  const required = classes.reduce((sum, c) => sum + (c.min ?? 0), 0);
  if (required > options.length) {
    throw new ValidationError(
      `a password of ${options.length} characters cannot hold the ${required} required by its character classes`,
    );
  }
  const alphabet = classes.map((c) => c.characters).join('');
  const chars: string[] = [];
  for (const c of classes)
    for (let i = 0; i < (c.min ?? 0); i++) chars.push(c.characters[random(c.characters.length)]!);
  while (chars.length < options.length) chars.push(alphabet[random(alphabet.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
