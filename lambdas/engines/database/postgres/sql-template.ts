import { ValidationError } from '../../../core/errors.ts';
import { escapeIdentifier, escapeLiteral } from '../../shared/postgres/sql-escape.ts';

export type TemplateKey = 'name' | 'password' | 'expiration';

const PLACEHOLDER = /\{\{\s*([A-Za-z_:0-9]*)\s*\}\}/g;
const KNOWN = new Set<string>(['name', 'password', 'expiration']);
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a statement template when a role is written. Placeholders are substituted already quoted (`{{name}}` as an
 * identifier, `{{password}}` and `{{expiration}}` as literals), so a template that quotes them itself — Vault's
 * `"{{name}}"` habit — is refused: the quotes would nest and could break out.
 */
export function validateStatementTemplate(statement: string, allowed: readonly TemplateKey[], field: string): void {
  for (const match of statement.matchAll(PLACEHOLDER)) {
    const key = match[1]!;
    if (!KNOWN.has(key)) throw new ValidationError(`${field}: unknown placeholder {{${key}}}`);
    if (!allowed.includes(key as TemplateKey)) throw new ValidationError(`${field}: {{${key}}} is not available here`);
    const before = statement[match.index - 1];
    const after = statement[match.index + match[0].length];
    if (before === '"' || before === "'" || after === '"' || after === "'") {
      throw new ValidationError(
        `${field}: write {{${key}}} without quotes around it; Coffer substitutes it already quoted (e.g. CREATE ROLE {{name}} ... PASSWORD {{password}})`,
      );
    }
  }
}

/**
 * Renders a statement template in one pass: `{{name}}` becomes a quoted identifier (`escapeIdentifier`, after checking
 * it is `[a-z0-9_]`), `{{password}}` and `{{expiration}}` quoted literals (`escapeLiteral`). A substituted value is
 * never scanned again, so a value cannot smuggle in a placeholder, and no value is ever spliced in raw.
 */
export function renderStatement(statement: string, values: Partial<Record<TemplateKey, string>>): string {
  return statement.replace(PLACEHOLDER, (_token, key: string) => {
    const value = values[key as TemplateKey];
    if (value === undefined) throw new ValidationError(`placeholder {{${key}}} has no value here`);
    if (key === 'name') {
      if (!IDENTIFIER.test(value)) throw new ValidationError('refusing to substitute an invalid role name');
      return escapeIdentifier(value);
    }
    if (value.includes('\0')) throw new ValidationError(`refusing to substitute a NUL byte for {{${key}}}`);
    return escapeLiteral(value);
  });
}
