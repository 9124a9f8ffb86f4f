import { DIGITS, generatePassword as generateFromClasses, LOWERCASE, UPPERCASE } from '../../core/crypto/password.ts';
import { ValidationError } from '../../core/errors.ts';
import type { PasswordPolicy } from './database-types.ts';

const TEMPLATE_TOKEN = /\{\{([a-z_]+)(?::(\d+))?\}\}/g;
const USERNAME = /^[a-z_][a-z0-9_]{0,62}$/;
const LITERAL = /^[a-z0-9_]*$/;

/**
 * Checks a username template: literal `[a-z0-9_]` plus `{{role}}`, `{{random:N}}` (N ≤ 32) and `{{unix_time}}`.
 * Anything else is refused at role write time rather than at issue time.
 */
export function validateUsernameTemplate(template: string): void {
  let literal = '';
  let last = 0;
  for (const match of template.matchAll(TEMPLATE_TOKEN)) {
    literal += template.slice(last, match.index);
    last = match.index + match[0].length;
    const [, name, arg] = match;
    if (name === 'random') {
      const n = Number(arg);
      if (arg === undefined || n < 1 || n > 32) throw new ValidationError('{{random:N}} needs 1 ≤ N ≤ 32');
    } else if ((name !== 'role' && name !== 'unix_time') || arg !== undefined) {
      throw new ValidationError(
        `unknown placeholder {{${name}${arg === undefined ? '' : `:${arg}`}}} in username_template`,
      );
    }
  }
  literal += template.slice(last);
  if (!LITERAL.test(literal)) {
    throw new ValidationError('username_template may only contain a-z, 0-9, "_" and placeholders');
  }
}

/**
 * Renders a username. The result is checked again, whatever the template and role name: only `[a-z0-9_]`, at most 63
 * characters (PostgreSQL's identifier limit, so nothing is silently truncated), not starting with a digit.
 */
export function renderUsername(template: string, role: string, now: number): string {
  validateUsernameTemplate(template);
  const rendered = template.replace(TEMPLATE_TOKEN, (_token, name: string, arg: string | undefined) => {
    if (name === 'role') return role.replace(/-/g, '_');
    if (name === 'unix_time') return String(Math.floor(now / 1000));
    return randomLower(Number(arg));
  });
  if (!USERNAME.test(rendered)) {
    throw new ValidationError(
      'the username template renders an invalid name (only a-z, 0-9 and "_", at most 63 characters, not starting with a digit)',
    );
  }
  return rendered;
}

function randomLower(n: number): string {
  return generateFromClasses({ length: n, classes: [{ characters: `${LOWERCASE}${DIGITS}` }] });
}

/**
 * Generates a password under a policy: at least the minimum count of each required class, the rest drawn uniformly
 * from every class whose minimum is above zero (a class at 0 is left out entirely).
 */
export function generatePassword(policy: PasswordPolicy): string {
  return generateFromClasses({
    length: policy.length,
    classes: [
      { characters: LOWERCASE, min: policy.min_lower },
      { characters: UPPERCASE, min: policy.min_upper },
      { characters: DIGITS, min: policy.min_digits },
      { characters: [...new Set(policy.symbols)].join(''), min: policy.min_symbols },
    ].filter((c) => c.min > 0),
  });
}
