/**
 * PostgreSQL quoting, as `pg`'s own `escapeIdentifier` and `escapeLiteral` (pg/lib/utils.js) do it, without loading
 * `pg`: SQL is built where no session is opened yet (statement templates, rotation SQL), and `pg` is loaded only when
 * a session is (`PostgresSessions`), so a broker that never reaches PostgreSQL never evaluates it (issue 15). The unit
 * test holds both to `pg`'s answers.
 */

/** A double-quoted identifier: every `"` doubled. */
export function escapeIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A single-quoted literal: every `'` and `\` doubled; with any backslash, an `E''` string, so the doubled backslash
 * means one whatever `standard_conforming_strings` says.
 */
export function escapeLiteral(value: string): string {
  let hasBackslash = false;
  let escaped = "'";
  for (const c of value) {
    if (c === "'") escaped += "''";
    else if (c === '\\') {
      escaped += '\\\\';
      hasBackslash = true;
    } else escaped += c;
  }
  escaped += "'";
  return hasBackslash ? ` E${escaped}` : escaped;
}
