import { randomInt } from 'node:crypto';
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

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

function randomLower(n: number): string {
  const alphabet = `${LOWER}${DIGITS}`;
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[randomInt(0, alphabet.length)];
  return out;
}

/**
 * Generates a password under a policy: at least the minimum count of each required class, the rest drawn uniformly
 * (`crypto.randomInt`) from every class whose minimum is above zero, then shuffled (Fisher–Yates).
 */
export function generatePassword(policy: PasswordPolicy): string {
  const classes: { chars: string; min: number }[] = [
    { chars: LOWER, min: policy.min_lower },
    { chars: UPPER, min: policy.min_upper },
    { chars: DIGITS, min: policy.min_digits },
    { chars: [...new Set(policy.symbols)].join(''), min: policy.min_symbols },
  ].filter((c) => c.min > 0);
  const all = classes.map((c) => c.chars).join('');
  const chars: string[] = [];
  for (const c of classes) for (let i = 0; i < c.min; i++) chars.push(c.chars[randomInt(0, c.chars.length)]!);
  while (chars.length < policy.length) chars.push(all[randomInt(0, all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
