import { DIGITS, generatePassword, LOWERCASE, passwordClasses, UPPERCASE } from '../../../core/crypto/password.ts';
import { ValidationError } from '../../../core/errors.ts';
import { SECRETS_MANAGER_ERRORS } from './errors.ts';
import { smError } from './shapes.ts';

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
 * AWS GetRandomPassword: 32 characters by default, with at least one character of each included type unless
 * `requireEachIncludedType` is false. The types a password must hold are letters of each case, digits and punctuation
 * ("at least one upper and lowercase letter, one number, and one punctuation", the API reference of
 * RequireEachIncludedType): the space IncludeSpace adds may appear but is never required, so a 4-character password
 * with IncludeSpace is possible. The impossible requests are refused here, in AWS's words.
 */
export function randomPassword(options: RandomPasswordOptions = {}): string {
  const length = options.length ?? 32;
  const min = (options.requireEachIncludedType ?? true) ? 1 : 0;
  const classes = passwordClasses(
    [
      { characters: options.excludeLowercase === true ? '' : LOWERCASE, min },
      { characters: options.excludeUppercase === true ? '' : UPPERCASE, min },
      { characters: options.excludeNumbers === true ? '' : DIGITS, min },
      { characters: options.excludePunctuation === true ? '' : PUNCTUATION, min },
      { characters: options.includeSpace === true ? ' ' : '', min: 0 },
    ],
    options.excludeCharacters,
  );
  if (classes.length === 0) throw new ValidationError('The password cannot be made: every character is excluded.');
  const required = classes.filter((c) => (c.min ?? 0) > 0).length;
  if (length < required) throw smError(SECRETS_MANAGER_ERRORS.passwordTooShort());
  return generatePassword({ length, classes });
}
