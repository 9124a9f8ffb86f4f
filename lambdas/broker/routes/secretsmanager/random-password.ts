import { DIGITS, generatePassword, LOWERCASE, passwordClasses, UPPERCASE } from '../../../core/crypto/password.ts';
import { ValidationError } from '../../../core/errors.ts';

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
 * AWS GetRandomPassword: 32 characters by default, with at least one character of each included class unless
 * `requireEachIncludedType` is false. The impossible requests are refused here, in AWS's words.
 */
export function randomPassword(options: RandomPasswordOptions = {}): string {
  const length = options.length ?? 32;
  const min = (options.requireEachIncludedType ?? true) ? 1 : 0;
  const classes = passwordClasses(
    [
      options.excludeLowercase === true ? '' : LOWERCASE,
      options.excludeUppercase === true ? '' : UPPERCASE,
      options.excludeNumbers === true ? '' : DIGITS,
      options.excludePunctuation === true ? '' : PUNCTUATION,
      options.includeSpace === true ? ' ' : '',
    ].map((characters) => ({ characters, min })),
    options.excludeCharacters,
  );
  if (classes.length === 0) throw new ValidationError('The password cannot be made: every character is excluded.');
  if (min > 0 && length < classes.length) {
    throw new ValidationError(
      `PasswordLength ${length} is too short to include a character of each of the ${classes.length} included types.`,
    );
  }
  return generatePassword({ length, classes });
}
