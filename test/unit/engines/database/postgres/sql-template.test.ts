import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';
import {
  renderStatement,
  validateStatementTemplate,
} from '../../../../../lambdas/engines/database/postgres/sql-template.ts';

const CREATE = 'CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}';

describe('renderStatement', () => {
  it('substitutes the name as a quoted identifier and values as quoted literals', () => {
    expect(renderStatement(CREATE, { name: 'v_app_1', password: 'pw', expiration: '2026-01-01T00:00:00.000Z' })).toBe(
      `CREATE ROLE "v_app_1" WITH LOGIN PASSWORD 'pw' VALID UNTIL '2026-01-01T00:00:00.000Z'`,
    );
  });

  it('keeps a hostile password inside one literal (quotes doubled, backslashes escaped)', () => {
    const sql = renderStatement(CREATE, { name: 'v_x', password: `a'); DROP ROLE admin; --\\`, expiration: 'e' });
    expect(sql).toBe(`CREATE ROLE "v_x" WITH LOGIN PASSWORD  E'a''); DROP ROLE admin; --\\\\' VALID UNTIL 'e'`);
  });

  it('refuses a name that is not [a-z0-9_], whatever it contains', () => {
    for (const name of ['x"; DROP ROLE admin; --', 'Admin', '', 'a b', `a'b`]) {
      expect(() => renderStatement(CREATE, { name, password: 'p', expiration: 'e' })).toThrow(ValidationError);
    }
  });

  it('renders in one pass: a value that looks like a placeholder stays a literal', () => {
    expect(renderStatement('SELECT {{password}}, {{name}}', { name: 'v_a', password: '{{name}}' })).toBe(
      `SELECT '{{name}}', "v_a"`,
    );
  });

  it('refuses a placeholder with no value and a NUL byte', () => {
    expect(() => renderStatement('DROP ROLE {{name}} {{password}}', { name: 'v_a' })).toThrow('has no value');
    expect(() => renderStatement('SELECT {{password}}', { password: 'a\0b' })).toThrow('NUL');
  });
});

describe('validateStatementTemplate', () => {
  it('accepts the placeholders allowed for the statement kind', () => {
    expect(() =>
      validateStatementTemplate(CREATE, ['name', 'password', 'expiration'], 'creation_statements'),
    ).not.toThrow();
  });

  it.each([
    [`CREATE ROLE "{{name}}"`, 'without quotes'],
    [`ALTER ROLE x PASSWORD '{{password}}'`, 'without quotes'],
    ['SELECT {{nope}}', 'unknown placeholder'],
  ])('refuses %j', (statement, message) => {
    expect(() =>
      validateStatementTemplate(statement, ['name', 'password', 'expiration'], 'creation_statements'),
    ).toThrow(message);
  });

  it('refuses {{password}} in a revocation statement', () => {
    expect(() => validateStatementTemplate('SELECT {{password}}', ['name'], 'revocation_statements')).toThrow(
      'not available here',
    );
  });
});
